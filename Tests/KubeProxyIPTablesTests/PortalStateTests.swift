import KubeProxyIPTables
import Testing

struct PortalStateTests {
    @Test func missingAndEmptyChainsDiffer() throws {
        let empty = try parseSave("*nat\n:KUBE-PORTALS-HOST - [0:0]\nCOMMIT\n")
        #expect(PortalState(empty).chains == [.portalsHost: []])
        #expect(PortalState(IPTablesRuleSet()).chains.isEmpty)
        #expect(PortalState(empty) != PortalState(IPTablesRuleSet()))
    }

    @Test func foreignRulesInOurChainsAreKeptAsUnrecognised() throws {
        let set = try parseSave(
            """
            *nat
            :KUBE-PORTALS-HOST - [0:0]
            -A KUBE-PORTALS-HOST -j MASQUERADE
            -A KUBE-PORTALS-HOST -d 10.0.0.1/32 -p tcp -m comment --comment "ns/a" -m tcp --dport 80 -j DNAT --to-destination 1.1.1.1:9
            COMMIT
            """)
        let state = PortalState(set)
        #expect(state.unrecognized == [IPTablesRule(chain: "KUBE-PORTALS-HOST", arguments: ["-j", "MASQUERADE"])])
        #expect(state.rules(in: .portalsHost).map(\.proxyPort) == [9])
    }

    @Test func rulesOutsideThePortalChainsAreIgnored() throws {
        let set = try parseSave("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\nCOMMIT\n")
        #expect(PortalState(set) == PortalState(IPTablesRuleSet()))
    }
}
