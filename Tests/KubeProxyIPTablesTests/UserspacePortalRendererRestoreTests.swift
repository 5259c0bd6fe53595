import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// The sync's restore input, checked by applying it to a fake that keeps real tables.
struct UserspacePortalRendererRestoreTests {
    static let ports = [
        PortalServicePort(
            servicePort: servicePort("web", clusterIP: "10.96.0.10", port: 80, nodePort: 30080, externalIPs: ["203.0.113.9"]),
            proxyPort: 40000),
        PortalServicePort(
            servicePort: servicePort("dns", portName: "dns", protocol: .udp, clusterIP: "10.96.0.53", port: 53), proxyPort: 40001),
    ]

    /// One sync as the runtime does it: save, parse, render, restore.
    @discardableResult
    func sync(_ fake: FakeIPTables, _ ports: [PortalServicePort], renderer: UserspacePortalRenderer = wildcardRenderer) async throws
        -> IPTablesRestoreScript
    {
        let current = try parseSave(try await fake.save(family: renderer.family))
        let script = UserspacePortalRenderer.restoreScript(desired: renderer.render(ports), current: current)
        try await fake.restore(script.text, family: renderer.family)
        return script
    }

    @Test func renderTextParseGivesTheSameStructure() throws {
        let desired = wildcardRenderer.render(Self.ports)
        let parsed = try parseSave(desired.text)
        #expect(parsed == desired)
        #expect(PortalState(parsed) == PortalState(desired))
    }

    @Test func firstSyncDeclaresChainsWritesRulesAndAddsAllJumps() throws {
        let script = UserspacePortalRenderer.restoreScript(desired: wildcardRenderer.render(Self.ports), current: IPTablesRuleSet())
        let nat = script.commands(for: "nat")
        #expect(
            Array(nat.prefix(4)) == [
                .declareChain(name: "KUBE-PORTALS-CONTAINER", policy: nil), .declareChain(name: "KUBE-PORTALS-HOST", policy: nil),
                .declareChain(name: "KUBE-NODEPORT-CONTAINER", policy: nil), .declareChain(name: "KUBE-NODEPORT-HOST", policy: nil),
            ])
        #expect(
            Array(nat.suffix(4)) == [
                .insert(ParentJump.portalsContainer.rule, position: 1), .insert(ParentJump.portalsHost.rule, position: 1),
                .append(ParentJump.nodePortContainer.rule), .append(ParentJump.nodePortHost.rule),
            ])
        #expect(script.commands(for: "filter").first == .declareChain(name: "KUBE-NODEPORT-NON-LOCAL", policy: nil))
        #expect(script.commands(for: "filter").last == .insert(ParentJump.nodePortNonLocal.rule, position: 1))
        #expect(script.text.hasPrefix("*nat\n:KUBE-PORTALS-CONTAINER - [0:0]\n"))
        #expect(script.text.hasSuffix("COMMIT\n"))
    }

    @Test func appliedSyncReadsBackAsTheRenderedStructure() async throws {
        let fake = FakeIPTables()
        try await sync(fake, Self.ports)
        let saved = try parseSave(try await fake.save(family: .ipv4))
        #expect(PortalState(saved) == PortalState(wildcardRenderer.render(Self.ports)))
        #expect(PortalState(saved).unrecognized.isEmpty)
        #expect(UserspacePortalRenderer.isSatisfied(desired: wildcardRenderer.render(Self.ports), current: saved))
    }

    @Test func laterSyncsLeaveJumpsAloneAndDropRulesOfRemovedServices() async throws {
        let fake = FakeIPTables()
        try await sync(fake, Self.ports)
        let second = try await sync(fake, [Self.ports[1]])
        #expect(!second.commands(for: "nat").contains { if case .insert = $0 { true } else { false } })
        let saved = try parseSave(try await fake.save(family: .ipv4))
        #expect(PortalState(saved) == PortalState(wildcardRenderer.render([Self.ports[1]])))
        #expect(saved.rules(in: "PREROUTING", table: "nat").count == 2)
        #expect(saved.rules(in: "INPUT", table: "filter").count == 1)
    }

    @Test func syncKeepsOtherComponentsRules() async throws {
        var initial = IPTablesRuleSet(tables: [
            IPTablesTable(
                name: "nat",
                chains: [
                    IPTablesChain(
                        name: "PREROUTING", policy: "ACCEPT", rules: [IPTablesRule(chain: "PREROUTING", arguments: ["-j", "DOCKER"])]),
                    IPTablesChain(name: "INPUT", policy: "ACCEPT"), IPTablesChain(name: "OUTPUT", policy: "ACCEPT"),
                    IPTablesChain(name: "POSTROUTING", policy: "ACCEPT"), IPTablesChain(name: "DOCKER"),
                ])
        ])
        initial.append(IPTablesRule(chain: "DOCKER", arguments: ["-i", "docker0", "-j", "RETURN"]), in: "nat")
        let fake = FakeIPTables(initial: [.ipv4: initial])
        try await sync(fake, Self.ports)
        let saved = try parseSave(try await fake.save(family: .ipv4))
        #expect(saved.rules(in: "DOCKER", table: "nat") == [IPTablesRule(chain: "DOCKER", arguments: ["-i", "docker0", "-j", "RETURN"])])
        #expect(
            saved.rules(in: "PREROUTING", table: "nat").map(\.target) == ["KUBE-PORTALS-CONTAINER", "DOCKER", "KUBE-NODEPORT-CONTAINER"])
    }

    @Test func isSatisfiedNoticesChangesAndForeignRules() async throws {
        let fake = FakeIPTables()
        try await sync(fake, Self.ports)
        var saved = try parseSave(try await fake.save(family: .ipv4))
        let desired = wildcardRenderer.render(Self.ports)
        #expect(UserspacePortalRenderer.isSatisfied(desired: desired, current: saved))
        #expect(!UserspacePortalRenderer.isSatisfied(desired: wildcardRenderer.render([Self.ports[0]]), current: saved))
        saved.append(IPTablesRule(chain: "KUBE-PORTALS-HOST", arguments: ["-j", "MASQUERADE"]), in: "nat")
        #expect(!UserspacePortalRenderer.isSatisfied(desired: desired, current: saved))
        #expect(!UserspacePortalRenderer.isSatisfied(desired: desired, current: IPTablesRuleSet()))
    }

    @Test func ipv6SyncRoundTripsThroughTheFake() async throws {
        let renderer = UserspacePortalRenderer(listenIP: ip("::"), hostIP: ip("fd00::2"), family: .ipv6)
        let ports = [
            PortalServicePort(
                servicePort: servicePort("web", clusterIP: "fd00:96::a", port: 80, nodePort: 30080, externalIPs: ["2001:db8::9"]),
                proxyPort: 40000)
        ]
        let fake = FakeIPTables()
        try await sync(fake, ports, renderer: renderer)
        let saved = try parseSave(try await fake.save(family: .ipv6))
        #expect(PortalState(saved) == PortalState(renderer.render(ports)))
        #expect(fake.ruleSet(family: .ipv4) == FakeIPTables().ruleSet(family: .ipv4))
    }

    @Test func previousProxyPortsComeFromRedirectAndDNATRules() throws {
        let saved = try parseSave(
            """
            *nat
            :KUBE-PORTALS-CONTAINER - [0:0]
            :KUBE-PORTALS-HOST - [0:0]
            :KUBE-NODEPORT-HOST - [0:0]
            :OTHER - [0:0]
            -A KUBE-PORTALS-CONTAINER -d 10.0.0.1/32 -p tcp -m comment --comment "ns/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 40000
            -A KUBE-PORTALS-HOST -d 10.0.0.1/32 -p tcp -m comment --comment "ns/web:http" -m tcp --dport 80 -j DNAT --to-destination 192.168.1.5:40000
            -A KUBE-NODEPORT-HOST -p udp -m comment --comment "ns/dns" -m udp --dport 30053 -j DNAT --to-destination 192.168.1.5:40001
            -A KUBE-PORTALS-CONTAINER -d 10.0.0.2/32 -p tcp -m comment --comment "ns/torn:a" -m tcp --dport 80 -j REDIRECT --to-ports 40002
            -A KUBE-PORTALS-HOST -d 10.0.0.2/32 -p tcp -m comment --comment "ns/torn:a" -m tcp --dport 80 -j DNAT --to-destination 192.168.1.5:40003
            -A OTHER -p tcp -m comment --comment "ns/other" -m tcp --dport 1 -j REDIRECT --to-ports 40004
            COMMIT
            *filter
            :KUBE-NODEPORT-NON-LOCAL - [0:0]
            -A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment "ns/filter-only" -m tcp --dport 40005 -m state --state NEW -j ACCEPT
            COMMIT
            """)
        #expect(UserspacePortalRenderer.previousProxyPorts(from: saved) == ["ns/web:http": 40000, "ns/dns": 40001])
    }

    @Test func previousProxyPortsOfARenderAreItsProxyPorts() {
        let set = wildcardRenderer.render(Self.ports)
        #expect(UserspacePortalRenderer.previousProxyPorts(from: set) == ["ns/web:http": 40000, "ns/dns:dns": 40001])
    }
}
