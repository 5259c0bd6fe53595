import KubeProxyCore
import KubeProxyIPTables
import Testing

struct PortalRuleTests {
    /// Parses one `-A CHAIN …` line as iptables-save would print it.
    func saved(_ line: String) throws -> IPTablesRule {
        try parseSave("*nat\n\(line)\nCOMMIT\n").tables[0].rules[0]
    }

    @Test func recognisesTheIPT13ExampleInIptablesSaveOrder() throws {
        let rule = try saved(
            #"-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/packetix-112:" -m tcp --dport 30503 -j REDIRECT --to-ports 43913"#
        )
        #expect(
            PortalRule(rule)
                == PortalRule(
                    chain: "KUBE-NODEPORT-CONTAINER", comment: "default/packetix-112:", protocol: .tcp, destinationPort: 30503,
                    target: .redirect(toPort: 43913)))
    }

    @Test func recognisesDNATAndMatchesOfBothFamilies() throws {
        let v4 = try saved(
            #"-A KUBE-PORTALS-CONTAINER -d 1.2.3.4/32 -p udp -m comment --comment "ns/dns:dns" -m udp --dport 53 -m physdev ! --physdev-is-in -j DNAT --to-destination 10.1.1.1:40000"#
        )
        #expect(
            PortalRule(v4)
                == PortalRule(
                    chain: "KUBE-PORTALS-CONTAINER", comment: "ns/dns:dns", protocol: .udp, destinationPort: 53,
                    destination: ip("1.2.3.4"), notFromBridge: true, target: .dnat(address: ip("10.1.1.1"), port: 40000)))
        let v6 = try saved(
            #"-A KUBE-PORTALS-HOST -d fd00::1/128 -p tcp -m comment --comment "ns/web" -m tcp --dport 80 -m addrtype --dst-type LOCAL -j DNAT --to-destination [fd00::5]:40000"#
        )
        #expect(
            PortalRule(v6)
                == PortalRule(
                    chain: "KUBE-PORTALS-HOST", comment: "ns/web", protocol: .tcp, destinationPort: 80, destination: ip("fd00::1"),
                    destinationIsLocal: true, target: .dnat(address: ip("fd00::5"), port: 40000)))
    }

    @Test(arguments: [
        PortalRule(
            chain: "KUBE-PORTALS-CONTAINER", comment: "a/b:c", protocol: .tcp, destinationPort: 80, destination: ip("10.0.0.1"),
            target: .redirect(toPort: 1)),
        PortalRule(
            chain: "KUBE-PORTALS-CONTAINER", comment: "a/b", protocol: .udp, destinationPort: 53, destination: ip("fd00::a"),
            notFromBridge: true, target: .dnat(address: ip("fd00::1"), port: 9)),
        PortalRule(
            chain: "KUBE-PORTALS-HOST", comment: "a/b", protocol: .tcp, destinationPort: 443, destination: ip("8.8.8.8"),
            destinationIsLocal: true, target: .dnat(address: ip("192.168.1.5"), port: 65535)),
        PortalRule(
            chain: "KUBE-NODEPORT-NON-LOCAL", comment: "a/b", protocol: .sctp, destinationPort: 40000, newConnectionsOnly: true,
            target: .accept),
        PortalRule(chain: "PREROUTING", comment: "x y", destinationIsLocal: true, target: .jump("KUBE-NODEPORT-CONTAINER")),
    ])
    func ourOrderAndTheKernelsOrderAreTheSameStructure(_ portal: PortalRule) {
        #expect(PortalRule(portal.rule) == portal)
        #expect(PortalRule(portal.rule.saveOrdered) == portal)
    }

    @Test func rendersTheFilterRuleExactlyAsIPT13() {
        let rule = PortalRule(
            chain: "KUBE-NODEPORT-NON-LOCAL", comment: "ns/web:http", protocol: .tcp, destinationPort: 41000,
            newConnectionsOnly: true, target: .accept)
        #expect(
            rule.description
                == #"-A KUBE-NODEPORT-NON-LOCAL -m comment --comment "ns/web:http" -p tcp -m tcp --dport 41000 -m state --state NEW -j ACCEPT"#
        )
    }

    @Test(arguments: [
        "-A C -p tcp -m tcp --dport 80 -j MASQUERADE",
        "-A C -s 10.0.0.0/8 -j ACCEPT",
        "-A C -d 10.0.0.0/24 -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A C -p udp -m tcp --dport 80 -j ACCEPT",
        "-A C -p tcp --dport 80 -j ACCEPT",
        "-A C -p tcp -m multiport --dports 80,81 -j ACCEPT",
        "-A C -j ACCEPT --extra",
        "-A C -j DNAT --to-destination 10.0.0.1-10.0.0.9:80",
        "-A C -j DNAT --to-destination [10.0.0.1]:80",
        "-A C -j REDIRECT --to-ports 80-90",
        "-A C -m state --state NEW,ESTABLISHED -j ACCEPT",
        "-A C -m addrtype --dst-type UNICAST -j ACCEPT",
        "-A C -m physdev --physdev-is-in -j ACCEPT",
        "-A C -p tcp -m tcp --dport 80",
    ])
    func foreignRulesAreNotRecognised(_ line: String) throws {
        #expect(PortalRule(try saved(line)) == nil)
    }

    @Test func proxyPortComesFromRedirectOrDNAT() {
        #expect(PortalRule(chain: "C", target: .redirect(toPort: 7)).proxyPort == 7)
        #expect(PortalRule(chain: "C", target: .dnat(address: ip("1.1.1.1"), port: 8)).proxyPort == 8)
        #expect(PortalRule(chain: "C", target: .accept).proxyPort == nil)
    }
}
