import KubeProxyIPTables
import KubeProxyTesting
import Testing

struct PortalCleanupTests {
    static let ports = [
        PortalServicePort(servicePort: servicePort("web", clusterIP: "10.96.0.10", port: 80, nodePort: 30080), proxyPort: 40000)
    ]

    func installed() async throws -> FakeIPTables {
        let fake = FakeIPTables()
        var withForeign = fake.ruleSet(family: .ipv4)
        withForeign.append(IPTablesRule(chain: "PREROUTING", arguments: ["-s", "10.0.0.0/8", "-j", "ACCEPT"]), in: "nat")
        fake.setRuleSet(withForeign, family: .ipv4)
        let current = try IPTablesRuleSet(parsingSave: try await fake.save(family: .ipv4))
        let script = UserspacePortalRenderer.restoreScript(desired: wildcardRenderer.render(Self.ports), current: current)
        try await fake.restore(script.text, family: .ipv4)
        return fake
    }

    @Test func cleanupRemovesChainsAndEveryJumpAndIsANoOpTheSecondTime() async throws {
        let fake = try await installed()
        // A duplicate J1 and a foreign jump into one of our chains must go too.
        var state = fake.ruleSet(family: .ipv4)
        state.append(ParentJump.portalsContainer.rule.saveOrdered, in: "nat")
        state.append(IPTablesRule(chain: "POSTROUTING", arguments: ["-j", "KUBE-PORTALS-HOST"]), in: "nat")
        fake.setRuleSet(state, family: .ipv4)

        let first = PortalCleanup.script(current: try parseSave(try await fake.save(family: .ipv4)))
        try await fake.restore(first.text, family: .ipv4)
        let after = fake.ruleSet(family: .ipv4)
        let names = Set(after.tables.flatMap(\.chains).map(\.name))
        #expect(names.isDisjoint(with: PortalChain.allCases.map(\.rawValue)))
        #expect(after.tables.flatMap(\.rules) == [IPTablesRule(chain: "PREROUTING", arguments: ["-s", "10.0.0.0/8", "-j", "ACCEPT"])])

        let second = PortalCleanup.script(current: try parseSave(try await fake.save(family: .ipv4)))
        #expect(second.isEmpty)
        #expect(second.text == "")
    }

    @Test func cleanupDeletesJumpsBeforeFlushingBeforeDeletingChains() throws {
        let current = try parseSave(
            """
            *filter
            :INPUT ACCEPT [0:0]
            :KUBE-NODEPORT-NON-LOCAL - [0:0]
            -A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL
            -A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment "ns/web" -m tcp --dport 40000 -m state --state NEW -j ACCEPT
            COMMIT
            """)
        #expect(
            PortalCleanup.script(current: current).commands(for: "filter") == [
                .delete(current.rules(in: "INPUT", table: "filter")[0]), .flushChain("KUBE-NODEPORT-NON-LOCAL"),
                .deleteChain("KUBE-NODEPORT-NON-LOCAL"),
            ])
        #expect(PortalCleanup.script(current: current).commands(for: "nat").isEmpty)
    }

    @Test func cleanHostNeedsNothing() {
        #expect(PortalCleanup.script(current: FakeIPTables().ruleSet(family: .ipv4)).isEmpty)
        #expect(PortalCleanup.script(current: IPTablesRuleSet()).isEmpty)
    }
}
