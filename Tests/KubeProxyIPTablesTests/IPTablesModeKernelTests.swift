import Foundation
import KubeProxyCore
import KubeProxyHost
import KubeProxyTesting
import Testing

@testable import KubeProxyIPTables

/// The rendered restores fed to the real `iptables-restore -w 5 -W 100000 --noflush --counters`
/// (and `ip6tables-restore`) inside a fresh network namespace, with the kernel's
/// `iptables-save` compared structurally with the fake's tables after every sync. This is what
/// makes the fake's verdicts (and every other test here) trustworthy: the kernel accepts every
/// restore and ends up with the same chains and rules.
///
/// Never touches the host's namespace: every command runs through `ip netns exec` in a
/// namespace this test creates and deletes (`NetworkLab`). Skipped, with the reason, when not
/// root or the tools are missing.
@Suite(.serialized) struct IPTablesModeKernelTests {
    static func makeLab() throws -> (NetworkLab, String) {
        if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
        for tool in ["iptables-restore", "ip6tables-restore", "ip6tables-save"] where NetworkLab.which(tool) == nil {
            try Test.cancel(Comment(rawValue: "skipped: \(tool) is not installed"))
        }
        let lab = NetworkLab()
        do {
            return (lab, try lab.addNamespace("ipt"))
        } catch {
            lab.destroy()
            throw error
        }
    }

    /// A fake and a real kernel fed the same restores.
    struct Pair {
        var harness: ModeHarness
        let lab: NetworkLab
        let namespace: String

        var family: IPFamily { harness.family }

        func realSave() throws -> IPTablesRuleSet {
            try IPTablesRuleSet(parsingSave: lab.exec(namespace, [family == .ipv4 ? "iptables-save" : "ip6tables-save"]))
        }

        /// Plans against the real kernel's save, restores into both, compares.
        @discardableResult
        mutating func sync(_ snapshot: ProxySnapshot, forceFull: Bool = false, sourceLocation: SourceLocation = #_sourceLocation)
            async throws -> IPTablesModeSyncPlan
        {
            let plan = harness.state.plan(snapshot: snapshot, current: try realSave(), forceFullSync: forceFull)
            let tool = family == .ipv4 ? "iptables-restore" : "ip6tables-restore"
            for text in plan.stagingScripts.map(\.text) + [plan.text] {
                try lab.exec(namespace, [tool, "-w", "5", "-W", "100000", "--noflush", "--counters"], input: text)
                try await harness.fake.restore(text, family: family)
            }
            harness.state.didApply(plan)
            #expect(harness.fake.jumpConsistencyProblems(family: family) == [], sourceLocation: sourceLocation)
            let real = try realSave()
            #expect(FakeIPTables.jumpConsistencyProblems(in: real) == [], sourceLocation: sourceLocation)
            let expected = Self.canonical(harness.tables, family: family)
            let actual = Self.canonical(real, family: family)
            #expect(Set(actual.keys) == Set(expected.keys), sourceLocation: sourceLocation)
            for (key, rules) in expected.sorted(by: { $0.key < $1.key }) {
                #expect(actual[key] == rules, "\(key)", sourceLocation: sourceLocation)
            }
            // The fake's save prints every rule word for word as iptables-save does
            // (`FakeIPTables.kernelSpelling`), so restart tests against the fake meet the
            // kernel's re-spellings.
            let fakeSaved = Self.spelled(try IPTablesRuleSet(parsingSave: try await harness.fake.save(family: family)))
            let realSpelled = Self.spelled(real)
            #expect(Set(fakeSaved.keys) == Set(realSpelled.keys), sourceLocation: sourceLocation)
            for (key, rules) in realSpelled.sorted(by: { $0.key < $1.key }) {
                #expect(fakeSaved[key] == rules, "\(key)", sourceLocation: sourceLocation)
            }
            return plan
        }

        /// Per `table chain`, the rules' arguments exactly as printed; empty built-in chains
        /// left out.
        static func spelled(_ ruleSet: IPTablesRuleSet) -> [String: [[String]]] {
            var result: [String: [[String]]] = [:]
            for table in ruleSet.tables {
                for chain in table.chains where !(chain.isBuiltin && chain.rules.isEmpty) {
                    result["\(table.name) \(chain.name)"] = chain.rules.map(\.arguments)
                }
            }
            return result
        }

        /// Per `table chain`, the rules in one spelling for both sides: iptables-save's argument
        /// order, plus the kernel's own re-spellings of what we write (MARK `--or-mark`/
        /// `--xor-mark` → `--set-xmark`, REJECT's default `--reject-with`, `recent`'s defaults and
        /// option order, `statistic`'s 11-digit fixed-point probability). Empty tables the
        /// kernel does not have are left out.
        static func canonical(_ ruleSet: IPTablesRuleSet, family: IPFamily) -> [String: [[String]]] {
            var result: [String: [[String]]] = [:]
            for table in ruleSet.tables {
                for chain in table.chains where !(chain.isBuiltin && chain.rules.isEmpty) {
                    result["\(table.name) \(chain.name)"] = chain.rules.map { canonicalArguments($0, family: family) }
                }
            }
            return result
        }

        /// The kernel's re-spellings are the ones restart adoption already knows
        /// (`IPTablesModeAdoption.canonical`): a spelling it missed fails here against the kernel.
        static func canonicalArguments(_ rule: IPTablesRule, family: IPFamily) -> [String] {
            IPTablesModeAdoption.canonical(rule.saveOrdered.arguments, family: family)
        }
    }

    static func overallWithRandomFully() -> IPTablesModeParameters {
        var parameters = UpstreamFixture.parameters()
        parameters.randomFully = true
        return parameters
    }

    @Test func goldenAndAPartialSyncSequenceLeaveTheRealKernelLikeTheFake() async throws {
        let (lab, namespace) = try Self.makeLab()
        defer { lab.destroy() }
        var pair = Pair(harness: ModeHarness(Self.overallWithRandomFully()), lab: lab, namespace: namespace)
        let overall = UpstreamFixture.overallSnapshot()
        #expect(try await pair.sync(overall).isFullSync)

        // Partial: svc4 gains an endpoint, svc1 loses its only one (REJECT), svc5 is deleted,
        // svc7 arrives with affinity over three endpoints and a Local internal policy.
        var ports = overall.servicePorts
        var endpoints = overall.endpoints
        ports[portName("ns5", "svc5")] = nil
        endpoints[portName("ns1", "svc1")] = nil
        endpoints[portName("ns4", "svc4")]?.append(endpoint("10.180.0.6", node: "test-node"))
        let svc7 = ServicePort(
            name: portName("ns7", "svc7", "dns", .udp), clusterIP: ip("172.30.0.47"), port: 53, nodePort: 3007,
            sessionAffinity: .clientIP(timeoutSeconds: 60), internalTrafficPolicy: .local)
        ports[svc7.name] = svc7
        endpoints[svc7.name] = [
            endpoint("10.180.0.7", 5353, node: "test-node"), endpoint("10.180.0.8", 5353, node: "test-node"),
            endpoint("10.180.0.9", 5353),
        ]
        let changed = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
        let partial = try await pair.sync(changed)
        #expect(!partial.isFullSync)
        #expect(!partial.staleChains.isEmpty)

        // A forced full sync against the kernel's own save: nothing duplicated, nothing lost.
        let full = try await pair.sync(changed, forceFull: true)
        #expect(full.isFullSync)
        #expect(try pair.realSave().rules(in: "INPUT", table: "filter").count == 4)
        #expect(!(try await pair.sync(changed)).isFullSync)

        // Back to the golden scenario in one partial sync.
        try await pair.sync(overall)
    }

    /// A first install in staging restores (two service ports each) is accepted by the real
    /// iptables-restore and ends like the fake.
    @Test func aStagedFirstInstallLeavesTheRealKernelLikeTheFake() async throws {
        let (lab, namespace) = try Self.makeLab()
        defer { lab.destroy() }
        var harness = ModeHarness(Self.overallWithRandomFully())
        harness.state.firstInstallBatch = 2
        var pair = Pair(harness: harness, lab: lab, namespace: namespace)
        let plan = try await pair.sync(UpstreamFixture.overallSnapshot())
        #expect(plan.isFullSync && plan.stagingScripts.count == 3)
    }

    /// A restart over what the real kernel holds adopts every chain, whatever iptables-save's
    /// spelling: the first sync writes nothing (so the adoption's canonical spelling covers
    /// everything the renderer writes, IPv4 and IPv6).
    @Test func aRestartOverTheRealKernelsRulesWritesNothing() async throws {
        let (lab, namespace) = try Self.makeLab()
        defer { lab.destroy() }
        let parameters = Self.overallWithRandomFully()
        var pair = Pair(harness: ModeHarness(parameters), lab: lab, namespace: namespace)
        try await pair.sync(UpstreamFixture.overallSnapshot())
        let plan = IPTablesModeState(parameters: parameters).plan(snapshot: UpstreamFixture.overallSnapshot(), current: try pair.realSave())
        #expect(plan.isFullSync && plan.rewrittenServicePorts.isEmpty)
        #expect(plan.script.isEmpty, "\(plan.text)")

        var v6 = UpstreamFixture.parameters(family: .ipv6)
        v6.randomFully = true
        var pair6 = Pair(harness: ModeHarness(v6), lab: lab, namespace: namespace)
        let snapshot6 = Self.ipv6Snapshot()
        try await pair6.sync(snapshot6)
        let plan6 = IPTablesModeState(parameters: v6).plan(snapshot: snapshot6, current: try pair6.realSave())
        #expect(plan6.isFullSync && plan6.rewrittenServicePorts.isEmpty)
        #expect(plan6.script.isEmpty, "\(plan6.text)")
    }

    /// With the nfacct objects in the namespace, upstream's newest rules (the counting INVALID
    /// drop and localhost NodePort rules) are accepted by the real kernel, read back like the
    /// fake, and adopted on a restart (iptables-save's `--nfacct-name  NAME` spelling included).
    @Test func nfacctRulesAreAcceptedAndAdoptedOnRestart() async throws {
        let (lab, namespace) = try Self.makeLab()
        defer { lab.destroy() }
        let nfacct = NetworkNamespaceEntry.nfacct(namespace)
        for name in IPTablesModeNFAcct.all { try nfacct.ensure(name) }
        var parameters = Self.overallWithRandomFully()
        parameters.nfacctAvailable = true
        var pair = Pair(harness: ModeHarness(parameters), lab: lab, namespace: namespace)
        try await pair.sync(UpstreamFixture.overallSnapshot())
        let saved = try pair.realSave()
        #expect(saved.rules(in: "KUBE-NODEPORTS", table: "nat").filter { $0.arguments.contains("nfacct") }.count == 3)
        #expect(saved.rules(in: "KUBE-FORWARD", table: "filter").first?.arguments.contains("nfacct") == true)
        let plan = IPTablesModeState(parameters: parameters).plan(snapshot: UpstreamFixture.overallSnapshot(), current: saved)
        #expect(plan.isFullSync && plan.script.isEmpty, "\(plan.text)")
    }

    /// Two IPv6 service ports: one with everything (external IP, LB with source ranges,
    /// affinity, Local policy), one without endpoints.
    static func ipv6Snapshot() -> ProxySnapshot {
        let web = ServicePort(
            name: portName("ns", "web"), clusterIP: ip("fd00:172:30::41"), port: 80, nodePort: 30080,
            externalIPs: [ip("2001:db8:99::22")], loadBalancerIPs: [ip("2001:db8:1b::4")],
            loadBalancerSourceRanges: [cidr("2600:5200::/64"), cidr("2001:db8::/64")], sessionAffinity: .clientIP(timeoutSeconds: 10800),
            externalTrafficPolicy: .local, healthCheckNodePort: 30999)
        let empty = ServicePort(name: portName("ns", "empty"), clusterIP: ip("fd00:172:30::46"), port: 80, nodePort: 30081)
        return modeSnapshot(
            .ipv6, [web, empty],
            [
                web.name: [
                    endpoint("fd00:10::2", node: "test-node"), endpoint("fd00:10::3", node: "other-node"),
                    endpoint("fd00:10::4", node: "other-node"),
                ]
            ])
    }

    @Test func ipv6RestoresAreAcceptedAndMatchTheFake() async throws {
        let (lab, namespace) = try Self.makeLab()
        defer { lab.destroy() }
        var parameters = UpstreamFixture.parameters(family: .ipv6)
        parameters.randomFully = true
        var pair = Pair(harness: ModeHarness(parameters), lab: lab, namespace: namespace)
        let web = ServicePort(
            name: portName("ns", "web"), clusterIP: ip("fd00:172:30::41"), port: 80, nodePort: 30080,
            externalIPs: [ip("2001:db8:99::22")], loadBalancerIPs: [ip("2001:db8:1b::4")],
            loadBalancerSourceRanges: [cidr("2600:5200::/64"), cidr("2001:db8::/64")], sessionAffinity: .clientIP(timeoutSeconds: 10800),
            externalTrafficPolicy: .local, healthCheckNodePort: 30999)
        let empty = ServicePort(name: portName("ns", "empty"), clusterIP: ip("fd00:172:30::46"), port: 80, nodePort: 30081)
        let snapshot = modeSnapshot(
            .ipv6, [web, empty], [web.name: [endpoint("fd00:10::2", node: "test-node"), endpoint("fd00:10::3", node: "other-node")]])
        try await pair.sync(snapshot)
        let shrunk = modeSnapshot(.ipv6, [web], [web.name: [endpoint("fd00:10::3", node: "other-node")]])
        let plan = try await pair.sync(shrunk)
        #expect(!plan.isFullSync)
        #expect(try pair.realSave().chain(ServiceChainNames(web.name).localPolicy, in: "nat") == nil)
    }
}
