import KubeAPI
import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import MetricsTestKit
import Synchronization
import Testing

@testable import KubeProxyRuntime

/// `IPTablesBackend` against the stateful `FakeIPTables`: full then partial syncs, restore
/// failures, the canary check, `--cleanup`, and the metrics its outcomes feed.
@Suite struct IPTablesBackendTests {
    /// A clock the test moves by hand.
    final class Time: Sendable {
        let value = Mutex(ContinuousClock.now)
        func advance(_ duration: Duration) { value.withLock { $0 = $0.advanced(by: duration) } }
        var now: @Sendable () -> ContinuousClock.Instant { { self.value.withLock { $0 } } }
    }

    let fake = FakeIPTables()
    let time = Time()
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static let web = ServicePortName(namespace: "ns", name: "web", port: "http")
    static let dns = ServicePortName(namespace: "ns", name: "dns", port: "dns", protocol: .udp)

    static func snapshot(_ endpoints: [String]) -> ProxySnapshot {
        let web = ServicePort(name: Self.web, clusterIP: .v4(0xac1e_000a), port: 80, nodePort: 30080)
        let dns = ServicePort(name: Self.dns, clusterIP: .v4(0xac1e_0035), port: 53)
        let list = endpoints.compactMap { IPAddress($0) }.map { Endpoint(ip: $0, port: 8080) }
        return ProxySnapshot(
            family: .ipv4, servicePorts: [Self.web: web, Self.dns: dns], endpoints: [Self.web: list, Self.dns: list])
    }

    func backend() -> IPTablesBackend {
        IPTablesBackend(
            parameters: IPTablesModeParameters(KernelModeOptions(family: .ipv4, topology: NodeTopology(nodeName: "node-a"))),
            executor: fake,
            canaryInterval: .seconds(30), now: time.now, logger: logger)
    }

    func sync(_ backend: IPTablesBackend, _ snapshot: ProxySnapshot, delta: SyncDelta = SyncDelta()) async -> SyncOutcome {
        let outcome = await backend.apply(await backend.plan(snapshot: snapshot, delta: delta))
        #expect(fake.jumpConsistencyProblems(family: .ipv4) == [])
        return outcome
    }

    var tables: IPTablesRuleSet { fake.ruleSet(family: .ipv4) }

    @Test func firstSyncIsFullLaterOnesPartialWithRuleCounts() async throws {
        let backend = backend()
        try await backend.start()
        let first = await sync(backend, Self.snapshot(["10.1.0.1"]))
        #expect(first.result == .succeeded)
        #expect(first.kind == .full)
        let natRules = kubeNatRules(tables)
        #expect(first.ruleFacts?.rulesPerTable["nat"] == natRules)
        #expect(first.ruleFacts?.rulesWrittenPerTable["nat"] == natRules)
        var delta = SyncDelta()
        delta.endpointsChanged = [Self.web, Self.dns]
        delta.removedEndpoints = [Self.dns: [Endpoint(ip: .v4(0x0a01_0001), port: 8080)]]
        let second = await sync(backend, Self.snapshot(["10.1.0.2"]), delta: delta)
        #expect(second.kind == .partial)
        #expect(second.staleUDPServicePorts == [Self.dns])
        #expect(second.ruleFacts?.rulesPerTable["nat"] == kubeNatRules(tables))
        // Every restore carried upstream's flags? The fake sees only the text; the text is one
        // restore per sync.
        #expect(fake.restoreInputs(family: .ipv4).count == 2)
    }

    @Test func aFailedPartialRestoreIsCountedAndTheNextSyncIsFull() async throws {
        let backend = backend()
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        fake.failNextRestore(message: "line 3 failed")
        let failed = await sync(backend, Self.snapshot(["10.1.0.2"]))
        #expect(!failed.isProgrammed)
        #expect(failed.ruleFacts?.failures == [.restore, .partialRestore])
        #expect(await backend.needsFullSync)
        let retry = await sync(backend, Self.snapshot(["10.1.0.2"]))
        #expect(retry.kind == .full)
        #expect(retry.result == .succeeded)
    }

    /// A firewall reload flushes everything; the next sync after the canary interval notices
    /// the missing canary and rewrites everything, jumps included, in one full restore.
    @Test func aVanishedCanaryForcesAFullResync() async throws {
        let backend = backend()
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        let good = tables
        fake.setRuleSet(IPTablesRuleSet(), family: .ipv4)
        time.advance(.seconds(31))
        let outcome = await sync(backend, Self.snapshot(["10.1.0.1"]))
        #expect(outcome.kind == .full)
        #expect(outcome.result == .succeeded)
        for table in ["filter", "nat"] {
            #expect(tables.table(named: table)?.chains.map(\.name).sorted() == good.table(named: table)?.chains.map(\.name).sorted())
        }
        #expect(tables.rules(in: "PREROUTING", table: "nat") == good.rules(in: "PREROUTING", table: "nat"))
    }

    @Test func theCanaryIsReadOnlyOncePerInterval() async throws {
        let backend = backend()
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        let saves = fake.saveCount(family: .ipv4)
        _ = await sync(backend, Self.snapshot(["10.1.0.2"]))
        #expect(fake.saveCount(family: .ipv4) == saves)
        time.advance(.seconds(30))
        let outcome = await sync(backend, Self.snapshot(["10.1.0.3"]))
        #expect(fake.saveCount(family: .ipv4) == saves + 1)
        #expect(outcome.kind == .partial)
    }

    @Test func cleanupRemovesTheModeAndIsHarmlessTwice() async throws {
        let backend = backend()
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        try await IPTablesBackend.cleanup(executor: fake, family: .ipv4, logger: logger)
        let restores = fake.restoreInputs(family: .ipv4).count
        #expect(tables.tables.allSatisfy { $0.chains.allSatisfy { $0.isBuiltin || $0.name == "KUBE-FIREWALL" } })
        try await IPTablesBackend.cleanup(executor: fake, family: .ipv4, logger: logger)
        #expect(fake.restoreInputs(family: .ipv4).count == restores)
    }

    @Test func outcomesFeedTheIPTablesMetrics() async throws {
        let test = TestMetrics()
        let metrics = ProxyMetrics(factory: test)
        let v4 = [("ip_family", "IPv4")]
        let backend = backend()
        let first = await sync(backend, Self.snapshot(["10.1.0.1"]))
        metrics.recordIPTables(first, family: .ipv4, duration: .milliseconds(7))
        #expect(try test.expectTimer(MetricNames.syncFullProxyRulesDuration, v4).values == [7_000_000])
        #expect(try test.expectGauge(MetricNames.iptablesTotal, v4 + [("table", "nat")]).lastValue == Double(kubeNatRules(tables)))
        fake.failNextRestore(message: "boom")
        metrics.recordIPTables(await sync(backend, Self.snapshot(["10.1.0.2"])), family: .ipv4, duration: .milliseconds(1))
        #expect(try test.expectCounter(MetricNames.iptablesPartialRestoreFailuresTotal, v4).totalValue == 1)
        #expect(try test.expectCounter(MetricNames.iptablesRestoreFailuresTotal, v4).totalValue == 1)
    }

    /// nat rules in our chains.
    func kubeNatRules(_ ruleSet: IPTablesRuleSet) -> Int {
        (ruleSet.table(named: "nat")?.chains ?? []).filter { !$0.isBuiltin }.reduce(0) { $0 + $1.rules.count }
    }
}

extension IPTablesBackendTests {
    /// A Node label change (its zone) re-renders everything in a full sync, and zone hints
    /// then select this zone's endpoints.
    @Test func aNodeZoneChangeMakesTheNextSyncFullWithZoneHints() async throws {
        let backend = backend()
        let hinted = ProxySnapshot(
            family: .ipv4,
            servicePorts: [Self.web: ServicePort(name: Self.web, clusterIP: .v4(0xac1e_000a), port: 80)],
            endpoints: [
                Self.web: [
                    Endpoint(ip: .v4(0x0a01_0001), port: 8080, zoneHints: ["zone-a"]),
                    Endpoint(ip: .v4(0x0a01_0002), port: 8080, zoneHints: ["zone-b"]),
                ]
            ])
        _ = await sync(backend, hinted)
        let svc = ServiceChainNames(Self.web).clusterPolicy
        #expect(tables.rules(in: svc, table: "nat").count == 2)
        await backend.nodeChanged(Node(metadata: ObjectMeta(name: "node-a", labels: ["topology.kubernetes.io/zone": "zone-a"])))
        let outcome = await sync(backend, hinted)
        #expect(outcome.kind == .full)
        #expect(tables.rules(in: svc, table: "nat").count == 1)
    }
}

extension IPTablesBackendTests {
    /// `MASQUERADE --random-fully` only where the tools understand it (≥ 1.6.2), probed once
    /// at start; an unknown version leaves it out.
    @Test(
        arguments: [
            (IPTablesVersion(components: [1, 8, 9]), true), (IPTablesVersion(components: [1, 6, 2]), true),
            (IPTablesVersion(components: [1, 6, 1]), false), (nil, false),
        ] as [(IPTablesVersion?, Bool)])
    func randomFullyFollowsTheProbedVersion(_ version: IPTablesVersion?, _ expected: Bool) async throws {
        fake.setVersion(version)
        var parameters = IPTablesModeParameters(KernelModeOptions(family: .ipv4, topology: NodeTopology(nodeName: "node-a")))
        parameters.randomFully = !expected
        let backend = IPTablesBackend(parameters: parameters, executor: fake, now: time.now, logger: logger)
        try await backend.start()
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        let masquerade = tables.rules(in: "KUBE-POSTROUTING", table: "nat").filter { $0.arguments.contains("MASQUERADE") }
        #expect(masquerade.count == 1)
        #expect(masquerade.first?.arguments.contains("--random-fully") == expected)
        _ = await sync(backend, Self.snapshot(["10.1.0.2"]))
        #expect(fake.versionProbes == 1)
    }

    /// A backend whose canary waits cost no time: each poll runs `onPoll` (the firewall
    /// flushing further) and is counted.
    func flushingBackend(onPoll: @escaping @Sendable (Int) -> Void) -> (IPTablesBackend, Polls) {
        let polls = Polls()
        let backend = IPTablesBackend(
            parameters: IPTablesModeParameters(KernelModeOptions(family: .ipv4, topology: NodeTopology(nodeName: "node-a"))),
            executor: fake,
            canaryInterval: .seconds(30), now: time.now,
            sleep: { _ in
                let count = polls.value.withLock {
                    $0 += 1
                    return $0
                }
                onPoll(count)
            }, logger: logger)
        return (backend, polls)
    }

    /// How many times the backend waited.
    final class Polls: Sendable {
        let value = Mutex(0)
    }

    /// `tables` without the canary chain in `names` (as a table-by-table flush leaves them).
    static func withoutCanary(_ tables: IPTablesRuleSet, in names: Set<String>) -> IPTablesRuleSet {
        var result = tables
        result.tables = tables.tables.map { table in
            guard names.contains(table.name) else { return table }
            var table = table
            table.chains.removeAll { $0.name == IPTablesModeChain.canary }
            return table
        }
        return result
    }

    /// A firewall reload flushing mangle, then nat, then filter: the resync waits until the
    /// last canary is gone (spec §2.9), so the flush cannot wipe the rules it just wrote.
    @Test func aFlushInProgressIsWaitedForBeforeTheResync() async throws {
        let fake = self.fake
        let (backend, polls) = flushingBackend { count in
            let current = fake.ruleSet(family: .ipv4)
            if count == 2 { fake.setRuleSet(Self.withoutCanary(current, in: ["nat"]), family: .ipv4) }
            if count == 4 { fake.setRuleSet(Self.withoutCanary(current, in: ["filter"]), family: .ipv4) }
        }
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        let good = tables
        fake.setRuleSet(Self.withoutCanary(good, in: ["mangle"]), family: .ipv4)
        time.advance(.seconds(31))
        let outcome = await sync(backend, Self.snapshot(["10.1.0.1"]))
        #expect(outcome.kind == .full)
        #expect(outcome.result == .succeeded)
        #expect(polls.value.withLock { $0 } == 4)
        #expect(tables.rules(in: "PREROUTING", table: "nat") == good.rules(in: "PREROUTING", table: "nat"))
        for table in ["mangle", "nat", "filter"] { #expect(tables.chain(IPTablesModeChain.canary, in: table) != nil) }
    }

    /// Someone deleted one canary only: after 5 s of 100 ms polls the resync happens anyway.
    @Test func aPartialFlushResyncsAfterTheTimeout() async throws {
        let (backend, polls) = flushingBackend { _ in }
        _ = await sync(backend, Self.snapshot(["10.1.0.1"]))
        fake.setRuleSet(Self.withoutCanary(tables, in: ["nat"]), family: .ipv4)
        time.advance(.seconds(31))
        let outcome = await sync(backend, Self.snapshot(["10.1.0.1"]))
        #expect(outcome.kind == .full)
        #expect(polls.value.withLock { $0 } == 50)
        #expect(tables.chain(IPTablesModeChain.canary, in: "nat") != nil)
    }
}

extension IPTablesBackendTests {
    /// A sync that changes nothing starts no `iptables-restore` and still reports the rules.
    @Test func anUnchangedSyncRunsNoRestore() async throws {
        let backend = backend()
        let first = await sync(backend, Self.snapshot(["10.1.0.1"]))
        let restores = fake.restoreInputs(family: .ipv4).count
        let second = await sync(backend, Self.snapshot(["10.1.0.1"]))
        #expect(fake.restoreInputs(family: .ipv4).count == restores)
        #expect(second.result == .succeeded)
        #expect(second.kind == .partial)
        #expect(second.ruleFacts?.rulesPerTable == first.ruleFacts?.rulesPerTable)
        #expect(second.ruleFacts?.rulesWrittenPerTable == ["filter": 0, "nat": 0])
    }
}

extension IPTablesBackendTests {
    /// 150 ClusterIP service ports with one endpoint each.
    static func many() -> ProxySnapshot {
        var ports: [ServicePortName: ServicePort] = [:]
        var endpoints: [ServicePortName: [Endpoint]] = [:]
        for index in 0..<150 {
            let name = ServicePortName(namespace: "ns", name: "s\(index)", port: "http")
            ports[name] = ServicePort(name: name, clusterIP: .v4(0xac1e_0100 + UInt32(index)), port: 80)
            endpoints[name] = [Endpoint(ip: .v4(0x0a02_0000 + UInt32(index)), port: 8080)]
        }
        return ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
    }

    /// A first install is staged (100 service ports per restore) with the nf_tables tools,
    /// whose cost grows with the square of the chains one restore names, and is one restore
    /// with the legacy ones, which rewrite the whole table in every restore.
    @Test(arguments: [("nf_tables", 3), ("legacy", 1)])
    func firstInstallStagingFollowsTheToolsBackend(_ backendName: String, _ restores: Int) async throws {
        fake.setVersion(IPTablesVersion(components: [1, 8, 9], backend: backendName))
        let backend = backend()
        try await backend.start()
        let outcome = await sync(backend, Self.many())
        #expect(outcome.result == .succeeded)
        #expect(fake.restoreInputs(family: .ipv4).count == restores)
    }
}
