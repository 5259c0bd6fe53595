import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// Partial sync, stale chains, failures and counts (spec §2.8, §2.9, §5.6), each sync applied
/// to the stateful fake kernel and checked for jump consistency by `ModeHarness`.
@Suite struct IPTablesModeStateTests {
    let parameters = UpstreamFixture.parameters()

    static func clusterIP(_ name: String, _ address: String) -> ServicePort {
        ServicePort(name: portName("ns", name), clusterIP: ip(address), port: 80)
    }

    /// The chains a restore declares in `table`.
    static func declared(_ plan: IPTablesModeSyncPlan, _ table: String) -> Set<String> {
        Set(
            plan.script.commands(for: table).compactMap {
                if case .declareChain(let name, _) = $0 { return name }
                return nil
            })
    }

    /// The chains a restore deletes in `table`.
    static func deleted(_ plan: IPTablesModeSyncPlan, _ table: String = "nat") -> [String] {
        plan.script.commands(for: table).compactMap {
            if case .deleteChain(let name) = $0 { return name }
            return nil
        }
    }

    /// The nat rules in our chains of the fake kernel.
    static func natRules(_ tables: IPTablesRuleSet) -> Int {
        kubeChains(tables)["nat"]?.values.reduce(0) { $0 + $1.count } ?? 0
    }

    static let topLevelNat: Set<String> = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]

    @Test func oneChangedServiceRewritesOnlyItsChains() async throws {
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1"), b = Self.clusterIP("b", "172.30.0.2")
        let first = modeSnapshot(.ipv4, [a, b], [a.name: [endpoint("10.180.0.1")], b.name: [endpoint("10.180.0.2")]])
        #expect(try await harness.sync(first).isFullSync)
        let second = modeSnapshot(
            .ipv4, [a, b], [a.name: [endpoint("10.180.0.1"), endpoint("10.180.0.3")], b.name: [endpoint("10.180.0.2")]])
        let plan = try await harness.sync(second)
        #expect(!plan.isFullSync)
        #expect(plan.rewrittenServicePorts == [a.name])
        let aChains: Set<String> = [
            ServiceChainNames(a.name).clusterPolicy,
            ServiceChainNames.endpointChain(a.name, endpoint: EndpointAddress(ip: ip("10.180.0.1"), port: 80)),
            ServiceChainNames.endpointChain(a.name, endpoint: EndpointAddress(ip: ip("10.180.0.3"), port: 80)),
        ]
        // KUBE-SERVICES still sends a's cluster IP to the same chain: not rewritten.
        #expect(Self.declared(plan, "nat") == aChains)
        #expect(plan.script.commands(for: "filter").isEmpty)
        #expect(Self.deleted(plan).isEmpty)
        // No jumps and no canary outside full syncs.
        #expect(!plan.script.sections.contains { $0.table == "mangle" })
        #expect(!plan.script.commands(for: "filter").contains { if case .insert = $0 { true } else { false } })
        // The kernel ends up exactly where a full render would put it.
        let full = IPTablesModeRenderer(parameters: parameters).render(second)
        #expect(kubeChains(harness.tables, saveOrder: true) == kubeChains(full, saveOrder: true))
        // +3 nat rules for one more endpoint (one statistic rule, two SEP rules).
        #expect(plan.counts.natRulesTotal == Self.natRules(harness.tables))
        // Written: a's chains only (masquerade + 2 endpoint rules, 2 SEPs of 2 rules).
        #expect(plan.counts.natRulesWritten == 3 + 4)
        #expect(plan.counts.filterRulesWritten == 0)
    }

    @Test func aRemovedEndpointsChainIsFlushedAndDeletedInTheSameRestore() async throws {
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1")
        try await harness.sync(modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1"), endpoint("10.180.0.2")]]))
        let plan = try await harness.sync(modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1")]]))
        let gone = ServiceChainNames.endpointChain(a.name, endpoint: EndpointAddress(ip: ip("10.180.0.2"), port: 80))
        #expect(plan.staleChains == [gone])
        #expect(Self.deleted(plan) == [gone])
        #expect(Self.declared(plan, "nat").contains(gone))
        #expect(harness.tables.chain(gone, in: "nat") == nil)
    }

    /// TestSyncProxyRulesRepeated: deleting a service deletes every chain it had.
    @Test func deletingAServiceDeletesAllItsChains() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        try await harness.sync(overall)
        let svc5 = portName("ns5", "svc5")
        var ports = overall.servicePorts
        ports[svc5] = nil
        let plan = try await harness.sync(ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: overall.endpoints))
        let names = ServiceChainNames(svc5)
        let sep = ServiceChainNames.endpointChain(svc5, endpoint: EndpointAddress(ip: ip("10.180.0.3"), port: 80))
        #expect(Self.deleted(plan) == [names.external, names.firewall, sep, names.clusterPolicy])
        #expect(plan.rewrittenServicePorts.isEmpty)
        for chain in Self.deleted(plan) { #expect(harness.tables.chain(chain, in: "nat") == nil) }
        #expect(harness.tables.rules(in: "KUBE-PROXY-FIREWALL", table: "filter").isEmpty)
        #expect(plan.counts.natRulesTotal == Self.natRules(harness.tables))
    }

    /// Nothing changed: an empty restore (upstream rewrites the top level every time, which
    /// costs O(services) in iptables-restore), while the counts still describe the kernel.
    @Test func anUnchangedSnapshotRewritesNothing() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        let first = try await harness.sync(overall)
        let plan = try await harness.sync(overall)
        #expect(!plan.isFullSync)
        #expect(plan.rewrittenServicePorts.isEmpty)
        #expect(plan.script.isEmpty)
        #expect(plan.text.isEmpty)
        #expect(plan.counts.natRulesTotal == first.counts.natRulesTotal)
        #expect(plan.counts.filterRules == first.counts.filterRules)
        #expect(plan.counts.natRulesWritten == 0 && plan.counts.filterRulesWritten == 0 && plan.counts.restoreLines == 0)
        #expect(first.counts.restoreLines == first.text.split(separator: "\n").count)
        #expect(first.counts.filterRulesWritten == first.counts.filterRules)
    }

    /// A new Service changes KUBE-SERVICES (one more capture rule) and the filter part stays:
    /// the restore rewrites KUBE-SERVICES and the new chains, nothing else at the top level.
    @Test func onlyChangedTopLevelChainsAreRewritten() async throws {
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1"), b = Self.clusterIP("b", "172.30.0.2")
        try await harness.sync(modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1")]]))
        let plan = try await harness.sync(
            modeSnapshot(.ipv4, [a, b], [a.name: [endpoint("10.180.0.1")], b.name: [endpoint("10.180.0.2")]]))
        let bChains: Set<String> = [
            ServiceChainNames(b.name).clusterPolicy,
            ServiceChainNames.endpointChain(b.name, endpoint: EndpointAddress(ip: ip("10.180.0.2"), port: 80)),
        ]
        #expect(Self.declared(plan, "nat") == bChains.union(["KUBE-SERVICES"]))
        #expect(plan.script.commands(for: "filter").isEmpty)
        #expect(plan.counts.restoreLines == plan.text.split(separator: "\n").count)
        // b without endpoints: its REJECT goes to filter KUBE-SERVICES, nat drops b's capture.
        let rejected = try await harness.sync(modeSnapshot(.ipv4, [a, b], [a.name: [endpoint("10.180.0.1")], b.name: []]))
        #expect(Self.declared(rejected, "filter") == ["KUBE-SERVICES"])
        #expect(Self.declared(rejected, "nat") == bChains.union(["KUBE-SERVICES"]))
        #expect(Set(Self.deleted(rejected)) == bChains)
    }

    /// A condition change that selects the same endpoints renders the same chains: nothing to rewrite.
    @Test func anEndpointChangeWithoutEffectRewritesNothing() async throws {
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1")
        try await harness.sync(modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1")]]))
        let plan = try await harness.sync(modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1", node: "other-node")]]))
        #expect(plan.rewrittenServicePorts.isEmpty)
    }

    /// TestSyncProxyRulesRepeated: +5 nat rules per new one-endpoint ClusterIP service.
    @Test func natRuleCountsFollowTheKernelThroughASequence() async throws {
        var harness = ModeHarness(parameters)
        var ports: [ServicePort] = []
        var endpoints: [ServicePortName: [Endpoint]] = [:]
        var previous = try await harness.sync(modeSnapshot(.ipv4, ports, endpoints)).counts.natRulesTotal
        for index in 1...4 {
            let port = Self.clusterIP("svc\(index)", "172.30.0.\(index)")
            ports.append(port)
            endpoints[port.name] = [endpoint("10.180.0.\(index)")]
            let plan = try await harness.sync(modeSnapshot(.ipv4, ports, endpoints))
            #expect(plan.counts.natRulesTotal == previous + 5)
            #expect(plan.counts.natRulesTotal == Self.natRules(harness.tables))
            #expect(plan.counts.filterRules == kubeChains(harness.tables)["filter"]?.values.reduce(0) { $0 + $1.count })
            previous = plan.counts.natRulesTotal
        }
    }

    @Test func aFailedRestoreChangesNothingAndMakesTheNextSyncFull() async throws {
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1")
        try await harness.sync(modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1")]]))
        let before = harness.tables
        harness.fake.failNextRestore(message: "line 7 failed")
        let changed = modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.2")]])
        await #expect(throws: (any Error).self) { try await harness.sync(changed) }
        #expect(harness.tables == before)
        #expect(harness.state.needsFullSync)
        let retry = try await harness.sync(changed)
        #expect(retry.isFullSync)
        #expect(
            kubeChains(harness.tables, saveOrder: true)
                == kubeChains(IPTablesModeRenderer(parameters: parameters).render(changed), saveOrder: true))
        #expect(try await !harness.sync(changed).isFullSync)
    }

    /// A firewall flush (firewalld reload) removes everything: a partial restore that follows
    /// fails on the missing chains its rules jump to, and the full retry puts everything back.
    /// (With nothing to change the restore is empty; the canary check notices the flush.)
    @Test func afterAFlushAPartialRestoreFailsAndTheFullRetryRepairs() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        try await harness.sync(overall)
        let good = harness.tables
        harness.fake.setRuleSet(IPTablesRuleSet(), family: .ipv4)
        let svc1 = try #require(overall.sortedServicePorts.first?.name)
        var moved = overall.endpoints
        moved[svc1] = [endpoint("10.180.0.9")]
        let changed = ProxySnapshot(family: .ipv4, servicePorts: overall.servicePorts, endpoints: moved)
        await #expect(throws: (any Error).self) { try await harness.sync(changed) }
        let retry = try await harness.sync(overall)
        #expect(retry.isFullSync)
        #expect(kubeChains(harness.tables, saveOrder: true) == kubeChains(good, saveOrder: true))
        #expect(harness.tables.rules(in: "INPUT", table: "filter") == good.rules(in: "INPUT", table: "filter"))
        #expect(harness.tables.chain(IPTablesModeChain.canary, in: "mangle") != nil)
    }

    /// A restart (new state) against existing rules: one full restore replaces everything, keeps
    /// foreign rules and chains, deletes our leftovers, and adds no second copy of any jump.
    @Test func aRestartReplacesRulesInPlaceAndDeletesLeftovers() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        try await harness.sync(overall)
        try await harness.fake.restore(
            """
            *nat
            :KUBE-SVC-LEFTOVER0000000 - [0:0]
            :KUBE-SEP-LEFTOVER0000000 - [0:0]
            :CNI-HOSTPORT-DNAT - [0:0]
            -A KUBE-SEP-LEFTOVER0000000 -j DNAT --to-destination 10.9.9.9:80
            -A KUBE-SVC-LEFTOVER0000000 -j KUBE-SEP-LEFTOVER0000000
            -A CNI-HOSTPORT-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.1.1.1:80
            -I PREROUTING 1 -j CNI-HOSTPORT-DNAT
            COMMIT

            """, family: .ipv4)
        let jumpsBefore = harness.tables.rules(in: "INPUT", table: "filter")
        var restarted = ModeHarness(parameters)
        restarted.state = IPTablesModeState(parameters: parameters)
        let current = harness.tables
        restarted.fake.setRuleSet(current, family: .ipv4)
        let plan = try await restarted.sync(overall)
        #expect(plan.isFullSync)
        #expect(Self.deleted(plan) == ["KUBE-SEP-LEFTOVER0000000", "KUBE-SVC-LEFTOVER0000000"])
        #expect(restarted.tables.rules(in: "INPUT", table: "filter") == jumpsBefore)
        #expect(restarted.tables.rules(in: "PREROUTING", table: "nat").map(\.target) == ["CNI-HOSTPORT-DNAT", "KUBE-SERVICES"])
        #expect(restarted.tables.rules(in: "CNI-HOSTPORT-DNAT", table: "nat").count == 1)
    }

    /// TestSyncProxyRulesLargeClusterMode: crossing the threshold in a partial sync re-renders
    /// only the changed service; the next full sync drops every per-endpoint comment.
    @Test func crossingTheLargeClusterThresholdDoesNotRewriteUnchangedServices() async throws {
        var parameters = parameters
        parameters.largeClusterEndpointsThreshold = 3
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1"), b = Self.clusterIP("b", "172.30.0.2")
        try await harness.sync(
            modeSnapshot(.ipv4, [a, b], [a.name: [endpoint("10.180.0.1"), endpoint("10.180.0.2")], b.name: [endpoint("10.180.0.3")]]))
        let large = modeSnapshot(
            .ipv4, [a, b],
            [a.name: [endpoint("10.180.0.1"), endpoint("10.180.0.2")], b.name: [endpoint("10.180.0.3"), endpoint("10.180.0.4")]])
        let plan = try await harness.sync(large)
        #expect(plan.largeClusterMode)
        #expect(plan.rewrittenServicePorts == [b.name])
        func commented(_ chain: String) -> Bool {
            harness.tables.rules(in: chain, table: "nat").contains { $0.arguments.contains("--comment") }
        }
        let aSep = ServiceChainNames.endpointChain(a.name, endpoint: EndpointAddress(ip: ip("10.180.0.1"), port: 80))
        let bSep = ServiceChainNames.endpointChain(b.name, endpoint: EndpointAddress(ip: ip("10.180.0.3"), port: 80))
        #expect(commented(aSep))
        #expect(!commented(bSep))
        let full = try await harness.sync(large, forceFull: true)
        // b's chains already hold their large-cluster render: only a's are written.
        #expect(full.rewrittenServicePorts == [a.name])
        #expect(!commented(aSep))
    }

    @Test func changedParametersReRenderEverythingInAFullSync() async throws {
        var harness = ModeHarness(parameters)
        let a = Self.clusterIP("a", "172.30.0.1")
        let snapshot = modeSnapshot(.ipv4, [a], [a.name: [endpoint("10.180.0.1")]])
        try await harness.sync(snapshot)
        var masqueradeAll = parameters
        masqueradeAll.masqueradeAll = true
        harness.state.update(parameters: masqueradeAll)
        let plan = try await harness.sync(snapshot)
        #expect(plan.isFullSync)
        #expect(!(harness.tables.rules(in: ServiceChainNames(a.name).clusterPolicy, table: "nat").first?.arguments.contains("!") ?? true))
    }

    /// TestNoEndpointsMetric's cases.
    @Test(arguments: [
        (TrafficPolicy.local, TrafficPolicy.cluster, ["test-node", "other-node"], 0, 0),
        (.local, .cluster, ["other-node"], 1, 0),
        (.cluster, .local, ["other-node"], 0, 1),
        (.local, .local, ["other-node"], 1, 1),
        (.local, .local, ["test-node"], 0, 0),
        (.local, .local, [], 0, 0),
        (.cluster, .cluster, ["other-node"], 0, 0),
    ])
    func noLocalEndpointsCounts(itp: TrafficPolicy, etp: TrafficPolicy, nodes: [String], expectedInternal: Int, expectedExternal: Int)
        async throws
    {
        let port = ServicePort(
            name: portName("ns", "a"), clusterIP: ip("172.30.0.1"), port: 80, nodePort: 30001, externalTrafficPolicy: etp,
            internalTrafficPolicy: itp)
        let endpoints = nodes.enumerated().map { endpoint("10.180.0.\($0.offset + 1)", node: $0.element) }
        var harness = ModeHarness(parameters)
        let plan = try await harness.sync(modeSnapshot(.ipv4, [port], [port.name: endpoints]))
        #expect(plan.counts.noLocalEndpointsInternal == expectedInternal)
        #expect(plan.counts.noLocalEndpointsExternal == expectedExternal)
    }
}

/// `--cleanup` for iptables mode.
@Suite struct IPTablesModeCleanupTests {
    @Test func cleanupRemovesEverythingOfOursKeepsForeignRulesAndIsIdempotent() async throws {
        var harness = ModeHarness(UpstreamFixture.parameters())
        try await harness.sync(UpstreamFixture.overallSnapshot())
        try await harness.fake.restore(
            """
            *nat
            :CNI-HOSTPORT-DNAT - [0:0]
            -A CNI-HOSTPORT-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.1.1.1:80
            -I PREROUTING 1 -j CNI-HOSTPORT-DNAT
            COMMIT

            """, family: .ipv4)
        let script = IPTablesModeCleanup.script(current: harness.tables)
        try await harness.fake.restore(script.text, family: .ipv4)
        let after = harness.tables
        let left = after.tables.flatMap { table in table.chains.filter { !$0.isBuiltin }.map { "\(table.name) \($0.name)" } }
        // Only kubelet's localnet guard and the foreign chain remain.
        #expect(left.sorted() == ["filter KUBE-FIREWALL", "nat CNI-HOSTPORT-DNAT"])
        #expect(after.rules(in: "INPUT", table: "filter").map(\.target) == ["KUBE-FIREWALL"])
        #expect(after.rules(in: "PREROUTING", table: "nat").map(\.target) == ["CNI-HOSTPORT-DNAT"])
        #expect(IPTablesModeCleanup.script(current: after).isEmpty)
    }

    @Test func markMasqueradeStaysWhileAnotherComponentUsesIt() async throws {
        var harness = ModeHarness(UpstreamFixture.parameters())
        try await harness.sync(UpstreamFixture.overallSnapshot())
        try await harness.fake.restore(
            "*nat\n:CNI-SNAT - [0:0]\n-A CNI-SNAT -s 10.9.0.0/16 -j KUBE-MARK-MASQ\nCOMMIT\n", family: .ipv4)
        try await harness.fake.restore(IPTablesModeCleanup.script(current: harness.tables).text, family: .ipv4)
        #expect(harness.tables.rules(in: "KUBE-MARK-MASQ", table: "nat").count == 1)
        #expect(harness.tables.chain("KUBE-SERVICES", in: "nat") == nil)
    }
}

extension IPTablesModeStateTests {
    static func ports(_ count: Int) -> ProxySnapshot {
        let ports = (1...count).map { Self.clusterIP("s\($0)", "172.30.1.\($0)") }
        var endpoints: [ServicePortName: [Endpoint]] = [:]
        for (index, port) in ports.enumerated() { endpoints[port.name] = [endpoint("10.180.1.\(index + 1)")] }
        return modeSnapshot(.ipv4, ports, endpoints)
    }

    /// A first install stages the per-service chains in batches that nothing refers to, then
    /// makes them reachable in one atomic restore; the kernel ends where one restore would
    /// put it.
    @Test func aFirstInstallStagesServiceChainsBeforeTheSwitch() async throws {
        var harness = ModeHarness(parameters)
        harness.state.firstInstallBatch = 2
        let snapshot = Self.ports(5)
        let current = try IPTablesRuleSet(parsingSave: try await harness.fake.save(family: .ipv4))
        let plan = harness.state.plan(snapshot: snapshot, current: current)
        #expect(plan.stagingScripts.count == 3)
        for (index, staging) in plan.stagingScripts.enumerated() {
            #expect(staging.sections.map(\.table) == ["nat"])
            let declared = Set(staging.commands(for: "nat").compactMap { if case .declareChain(let name, _) = $0 { name } else { nil } })
            #expect(declared.contains(IPTablesModeChain.markMasquerade) == (index == 0))
            #expect(!declared.contains(IPTablesModeChain.services))
        }
        // The switch-over declares no per-service chain (they exist already) but every jump.
        #expect(!Self.declared(plan, "nat").contains { IPTablesModeChain.isServiceChain($0) })
        #expect(plan.counts.restoreLines == (plan.stagingScripts.map(\.text) + [plan.text]).joined().split(separator: "\n").count)

        // Staged only: nothing of ours is reachable from a built-in chain yet.
        for staging in plan.stagingScripts { try await harness.fake.restore(staging.text, family: .ipv4) }
        #expect(harness.tables.rules(in: "PREROUTING", table: "nat").isEmpty)
        #expect(harness.tables.rules(in: "OUTPUT", table: "nat").isEmpty)

        var fresh = ModeHarness(parameters)
        fresh.state.firstInstallBatch = 2
        let applied = try await fresh.sync(snapshot)
        #expect(applied.stagingScripts.count == 3)
        var single = ModeHarness(parameters)
        single.state.firstInstallBatch = 0
        #expect(try await single.sync(snapshot).stagingScripts.isEmpty)
        #expect(kubeChains(fresh.tables, saveOrder: true) == kubeChains(single.tables, saveOrder: true))
        #expect(fresh.tables.rules(in: "PREROUTING", table: "nat") == single.tables.rules(in: "PREROUTING", table: "nat"))
    }

    /// With our rules in place (a restart, or a resync after a failure) a full sync replaces
    /// them in one restore: no window with half the rules.
    @Test func aFullSyncOverExistingRulesIsOneRestore() async throws {
        var first = ModeHarness(parameters)
        first.state.firstInstallBatch = 2
        try await first.sync(Self.ports(5))
        var restarted = ModeHarness(parameters)
        restarted.state.firstInstallBatch = 2
        restarted.fake.setRuleSet(first.tables, family: .ipv4)
        let plan = try await restarted.sync(Self.ports(6))
        #expect(plan.isFullSync)
        #expect(plan.stagingScripts.isEmpty)
        #expect(
            kubeChains(restarted.tables, saveOrder: true)
                == kubeChains(IPTablesModeRenderer(parameters: parameters).render(Self.ports(6)), saveOrder: true))
    }

    /// A staging restore that fails leaves unreferenced chains; the next full sync sees them and
    /// replaces everything in one restore.
    @Test func aFailedStagingIsRepairedByOneFullRestore() async throws {
        var harness = ModeHarness(parameters)
        harness.state.firstInstallBatch = 2
        let snapshot = Self.ports(5)
        let current = try IPTablesRuleSet(parsingSave: try await harness.fake.save(family: .ipv4))
        let plan = harness.state.plan(snapshot: snapshot, current: current)
        try await harness.fake.restore(plan.stagingScripts[0].text, family: .ipv4)
        harness.state.didFail(plan)
        let retry = try await harness.sync(snapshot)
        // The two staged ports' chains are there already; the three others are staged again.
        #expect(retry.isFullSync && retry.stagingScripts.count == 2)
        #expect(retry.rewrittenServicePorts == Array(snapshot.sortedServicePorts.map(\.name).dropFirst(2)))
        #expect(
            kubeChains(harness.tables, saveOrder: true)
                == kubeChains(IPTablesModeRenderer(parameters: parameters).render(snapshot), saveOrder: true))
    }

    /// `harness`'s kernel handed to a new state, as after a restart of kube-proxy.
    static func restarted(from harness: ModeHarness, batch: Int = 100) -> ModeHarness {
        var restarted = ModeHarness(harness.state.renderer.parameters)
        restarted.state.firstInstallBatch = batch
        restarted.fake.setRuleSet(harness.tables, family: harness.family)
        return restarted
    }

    /// A restart over the rules it would write adopts them: the first (full) sync writes no
    /// chain and runs no restore, and the next partial sync starts from what was adopted.
    @Test func aRestartOverAnIdenticalTableWritesNothing() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        try await harness.sync(overall)
        var restarted = Self.restarted(from: harness)
        let before = restarted.tables
        let plan = try await restarted.sync(overall)
        #expect(plan.isFullSync)
        #expect(plan.rewrittenServicePorts.isEmpty && plan.staleChains.isEmpty && plan.stagingScripts.isEmpty)
        #expect(plan.script.isEmpty)
        #expect(plan.counts.natRulesWritten == 0 && plan.counts.filterRulesWritten == 0)
        #expect(plan.counts.natRulesTotal == Self.natRules(before))
        #expect(restarted.tables == before)
        #expect(!restarted.state.needsFullSync)

        let svc4 = portName("ns4", "svc4")
        var endpoints = overall.endpoints
        endpoints[svc4] = [endpoint("10.180.0.4")]
        let changed = ProxySnapshot(family: .ipv4, servicePorts: overall.servicePorts, endpoints: endpoints)
        let partial = try await restarted.sync(changed)
        #expect(!partial.isFullSync)
        #expect(partial.rewrittenServicePorts == [svc4])
        #expect(
            kubeChains(restarted.tables, saveOrder: true)
                == kubeChains(IPTablesModeRenderer(parameters: parameters).render(changed), saveOrder: true))
    }

    /// Restarts in a row over the fake kernel's save, which re-spells MARK, REJECT, `recent` and
    /// `statistic` as iptables-save does: the first after a fresh sync, a second over the rules
    /// the first left, a third over rules a restart rewrote (a service changed while the proxy
    /// was down) and one after a restarted proxy's partial sync each adopt every chain and
    /// write nothing (issue #11: "a second restart writes 6 restore lines").
    @Test func restartsInARowOverTheKernelsSpellingWriteNothing() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        try await harness.sync(overall)
        let text = try await harness.fake.save(family: .ipv4)
        #expect(text.contains("--set-xmark") && text.contains("--rsource") && text.contains("--reject-with"))
        #expect(text.contains("--probability 0.50000000000") && !text.contains("--or-mark"))

        func restartWritesNothing(_ previous: ModeHarness, _ snapshot: ProxySnapshot) async throws -> ModeHarness {
            var restarted = Self.restarted(from: previous)
            let plan = try await restarted.sync(snapshot)
            #expect(plan.isFullSync && plan.script.isEmpty && plan.stagingScripts.isEmpty, "\(plan.text)")
            #expect(plan.counts.restoreLines == 0)
            return restarted
        }
        let first = try await restartWritesNothing(harness, overall)
        let second = try await restartWritesNothing(first, overall)

        let svc4 = portName("ns4", "svc4")
        var endpoints = overall.endpoints
        endpoints[svc4] = [endpoint("10.180.0.4"), endpoint("10.180.0.9")]
        let changed = ProxySnapshot(family: .ipv4, servicePorts: overall.servicePorts, endpoints: endpoints)
        var rewriting = Self.restarted(from: second)
        #expect(try await rewriting.sync(changed).rewrittenServicePorts == [svc4])
        var third = try await restartWritesNothing(rewriting, changed)
        #expect(!(try await third.sync(overall)).isFullSync)
        _ = try await restartWritesNothing(third, overall)
    }

    /// Where a 6-line restart restore comes from (issue #11 noted one on a second restart, not
    /// reproduced with one build and one host: every restart there writes nothing): over
    /// ClusterIP-only services, as the benchmark's, a process whose host-dependent parameters
    /// differ from the previous process's rewrites exactly one three-rule chain, and the
    /// restart after it writes nothing again. Without the nfacct objects (or with a kernel
    /// refusing the match, or a build from before the counting rules) the INVALID drop in
    /// KUBE-FORWARD has no `-m nfacct`; without a version probe (or tools older than 1.6.2)
    /// KUBE-POSTROUTING's MASQUERADE has no `--random-fully`.
    @Test(arguments: [("filter", "KUBE-FORWARD"), ("nat", "KUBE-POSTROUTING")])
    func aRestartWithOtherHostParametersRewritesOneChainInSixLines(_ table: String, _ chain: String) async throws {
        var before = parameters
        var after = parameters
        if chain == "KUBE-FORWARD" {
            (before.nfacctAvailable, after.nfacctAvailable) = (false, true)
        } else {
            (before.randomFully, after.randomFully) = (false, true)
        }
        let snapshot = Self.ports(5)
        var harness = ModeHarness(before)
        try await harness.sync(snapshot)
        var restarted = ModeHarness(after)
        restarted.fake.setRuleSet(harness.tables, family: .ipv4)
        let plan = try await restarted.sync(snapshot)
        #expect(Self.declared(plan, table) == [chain])
        #expect(Self.declared(plan, table == "nat" ? "filter" : "nat").isEmpty)
        #expect(plan.rewrittenServicePorts.isEmpty && plan.staleChains.isEmpty)
        #expect(plan.counts.restoreLines == 6)
        #expect(plan.text.split(separator: "\n").count == 6, "\(plan.text)")
        var next = Self.restarted(from: restarted)
        let again = try await next.sync(snapshot)
        #expect(again.isFullSync && again.script.isEmpty)
    }

    /// The kernel prints some of what we write in its own spelling (MARK, REJECT, `recent`,
    /// `statistic`); a restart still adopts those chains.
    @Test func aRestartAdoptsTheKernelsSpellings() async throws {
        var harness = ModeHarness(parameters)
        let overall = UpstreamFixture.overallSnapshot()
        try await harness.sync(overall)
        var text = FakeIPTables.saveText(harness.tables, family: .ipv4)
        text = text.replacing("--or-mark 0x4000", with: "--set-xmark 0x4000/0x4000")
        text = text.replacing("--xor-mark 0x4000", with: "--set-xmark 0x4000/0x0")
        text = text.replacing("--probability 0.5000000000", with: "--probability 0.50000000000")
        text = text.replacing(" -j REJECT\n", with: " -j REJECT --reject-with icmp-port-unreachable\n")
        text = text.replacing(/-m recent --name (\S+) --rcheck --seconds (\d+) --reap/) { match in
            "-m recent --rcheck --seconds \(match.2) --reap --name \(match.1) --mask 255.255.255.255 --rsource"
        }
        text = text.replacing(/-m recent --name (\S+) --set/) { match in
            "-m recent --set --name \(match.1) --mask 255.255.255.255 --rsource"
        }
        #expect(text.contains("--set-xmark") && text.contains("0.50000000000") && text.contains("--rsource"))
        #expect(text.contains("--reject-with"))
        var restarted = ModeHarness(parameters)
        restarted.fake.setRuleSet(try IPTablesRuleSet(parsingSave: text), family: .ipv4)
        let plan = try await restarted.sync(overall)
        #expect(plan.isFullSync && plan.script.isEmpty)
    }

    /// A restart over a table in which one service port's endpoints differ rewrites only that
    /// port's chains (and deletes its stale endpoint chain), in one restore.
    @Test func aRestartOverOneDifferingServiceRewritesOnlyItsChains() async throws {
        var harness = ModeHarness(parameters)
        let snapshot = Self.ports(5)
        try await harness.sync(snapshot)
        let s3 = portName("ns", "s3")
        var endpoints = snapshot.endpoints
        endpoints[s3] = [endpoint("10.180.1.99")]
        let changed = ProxySnapshot(family: .ipv4, servicePorts: snapshot.servicePorts, endpoints: endpoints)
        var restarted = Self.restarted(from: harness, batch: 0)
        let plan = try await restarted.sync(changed)
        #expect(plan.isFullSync)
        #expect(plan.rewrittenServicePorts == [s3])
        let old = ServiceChainNames.endpointChain(s3, endpoint: endpoint("10.180.1.3").address)
        let new = ServiceChainNames.endpointChain(s3, endpoint: endpoint("10.180.1.99").address)
        #expect(plan.staleChains == [old])
        #expect(Self.declared(plan, "nat") == [ServiceChainNames(s3).clusterPolicy, new, old])
        #expect(Self.declared(plan, "filter").isEmpty)
        #expect(
            kubeChains(restarted.tables, saveOrder: true)
                == kubeChains(IPTablesModeRenderer(parameters: parameters).render(changed), saveOrder: true))
    }

    /// A foreign edit inside one of our chains (a rule added, a rule deleted) is repaired by the
    /// restart's first sync or by a forced full sync, which rewrite only the edited chains.
    @Test func aForeignEditInsideOurChainIsRepaired() async throws {
        var harness = ModeHarness(parameters)
        let snapshot = Self.ports(5)
        try await harness.sync(snapshot)
        let good = harness.tables
        let s2 = ServiceChainNames(portName("ns", "s2")).clusterPolicy
        try await harness.fake.restore("*nat\n-A \(s2) -j DROP\n-D KUBE-SERVICES 1\nCOMMIT\n", family: .ipv4)
        #expect(harness.tables != good)
        var restarted = Self.restarted(from: harness)
        let plan = try await restarted.sync(snapshot)
        #expect(plan.rewrittenServicePorts == [portName("ns", "s2")])
        #expect(Self.declared(plan, "nat") == [s2, IPTablesModeChain.services])
        #expect(kubeChains(restarted.tables, saveOrder: true) == kubeChains(good, saveOrder: true))

        // The same through a forced full sync of the running state (whose kernel still has both
        // edits).
        let forced = try await harness.sync(snapshot, forceFull: true)
        #expect(forced.rewrittenServicePorts == [portName("ns", "s2")])
        #expect(Self.declared(forced, "nat") == [s2, IPTablesModeChain.services])
        #expect(kubeChains(harness.tables, saveOrder: true) == kubeChains(good, saveOrder: true))
    }

    /// A restart after Services were created while kube-proxy was down stages the new ports'
    /// chains (nothing refers to them yet) and switches over in one restore.
    @Test func aRestartStagesTheChainsOfNewServices() async throws {
        var harness = ModeHarness(parameters)
        try await harness.sync(Self.ports(2))
        var restarted = Self.restarted(from: harness, batch: 2)
        let plan = try await restarted.sync(Self.ports(7))
        #expect(plan.stagingScripts.count == 3)
        #expect(plan.rewrittenServicePorts == (3...7).map { portName("ns", "s\($0)") })
        #expect(!Self.declared(plan, "nat").contains { IPTablesModeChain.isServiceChain($0) })
        #expect(
            kubeChains(restarted.tables, saveOrder: true)
                == kubeChains(IPTablesModeRenderer(parameters: parameters).render(Self.ports(7)), saveOrder: true))
    }
}
