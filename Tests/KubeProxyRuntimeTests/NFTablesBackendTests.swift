import KubeAPI
import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import KubeProxyRuntime
import KubeProxyTesting
import Logging
import Synchronization
import Testing

/// `NFTablesBackend` over `FakeNFTables`: partial syncs, failure → full sync that re-reads the
/// table, stale-chain clean-up and its failure counter, restart from an existing table.
@Suite struct NFTablesBackendTests {
    static let name = ServicePortName(namespace: "ns1", name: "svc1", port: "p80")

    static func snapshot(_ endpoints: [String]) -> ProxySnapshot {
        let port = ServicePort(name: name, clusterIP: IPAddress("172.30.0.41")!, port: 80)
        return ProxySnapshot(
            family: .ipv4, servicePorts: [name: port], endpoints: [name: endpoints.map { Endpoint(ip: IPAddress($0)!, port: 80) }])
    }

    static func delta(endpointsOf names: Set<ServicePortName> = []) -> SyncDelta {
        var delta = SyncDelta()
        delta.endpointsChanged = names
        return delta
    }

    /// A clock the test moves.
    final class Time: Sendable {
        let value = Mutex(Duration.seconds(10))
        func advance(_ by: Duration) { value.withLock { $0 += by } }
        var now: @Sendable () -> Duration { { self.value.withLock { $0 } } }
    }

    static func backend(_ fake: FakeNFTables, time: Time) -> NFTablesBackend {
        let options = NFTRenderOptions(
            family: .ipv4, topology: NodeTopology(nodeName: "node-1"), localDetector: .cidr(CIDR("10.0.0.0/8")!),
            nodeIPs: [IPAddress("192.168.0.2")!], localAddresses: [IPAddress("192.168.0.2")!])
        return NFTablesBackend(options: options, executor: fake, now: time.now, logger: Logger(label: "test"))
    }

    @Test func syncsAreFullFirstThenPartial() async throws {
        let fake = FakeNFTables()
        let time = Time()
        let backend = Self.backend(fake, time: time)
        try await backend.start()

        let first = await backend.apply(
            await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))
        #expect(first.result == .succeeded)
        #expect(first.kind == .full)
        #expect(fake.table(.ip)?.elements(of: "service-ips") == ["172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80"])

        let idle = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: SyncDelta()))
        #expect(idle.kind == .partial)
        #expect(idle.ruleFacts?.rulesWrittenPerTable == ["kube-proxy": 0])
        #expect(fake.transactions.count == 1, "an idle sync runs no transaction")

        let moved = await backend.apply(
            await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: Self.delta(endpointsOf: [Self.name])))
        #expect(moved.ruleFacts?.rulesWrittenPerTable == ["kube-proxy": 9])

        // A second later the old endpoint chain is deleted in its own transaction.
        time.advance(.seconds(2))
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: SyncDelta()))
        #expect(fake.lastTransaction?.operations == [.deleteChain("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80")])
        #expect(await backend.kernelState.staleSince.isEmpty)
    }

    /// The clean-up runs after the change it shares a sync with (its `delete` makes nft 1.0.x
    /// dump every chain first), and a stale chain it deleted is not flushed again later.
    @Test func staleChainsAreDeletedAfterTheChange() async throws {
        let fake = FakeNFTables()
        let time = Time()
        let backend = Self.backend(fake, time: time)
        try await backend.start()
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: Self.delta(endpointsOf: [Self.name])))
        time.advance(.seconds(2))
        let outcome = await backend.apply(
            await backend.plan(snapshot: Self.snapshot(["10.0.1.3"]), delta: Self.delta(endpointsOf: [Self.name])))
        #expect(outcome.result == .succeeded)
        let last = fake.transactions.suffix(2).map(\.operations)
        let flushesNewlyStale = last.first?.contains {
            if case .flushChain(let name) = $0 { name.hasSuffix("__10.0.1.2/80") } else { false }
        }
        #expect(flushesNewlyStale == true, "the main transaction first")
        #expect(last.last == [.deleteChain("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80")])

        time.advance(.seconds(2))
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.4"]), delta: Self.delta(endpointsOf: [Self.name])))
        let main = try #require(fake.transactions.suffix(2).first)
        #expect(!main.operations.contains(.flushChain("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80")))
        #expect(fake.table(.ip)?.chains["endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80"] == nil)
    }

    @Test func failureForcesAFullSyncThatRereadsTheTable() async throws {
        let fake = FakeNFTables()
        let backend = Self.backend(fake, time: Time())
        try await backend.start()
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))

        // Someone deletes our table behind our back, and the next transaction fails.
        _ = try await fake.deleteTable(family: .ipv4, name: "kube-proxy")
        fake.failNextRuns()
        let failed = await backend.apply(
            await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: Self.delta(endpointsOf: [Self.name])))
        #expect(failed.isProgrammed == false)
        #expect(failed.ruleFacts?.failures == [.nftablesSync])

        let retry = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: SyncDelta()))
        #expect(retry.result == .succeeded)
        #expect(retry.kind == .full)
        #expect(fake.table(.ip)?.rules(of: "endpoint-ZCZBVNAZ-ns1/svc1/tcp/p80__10.0.1.2/80")?.count == 2)
    }

    @Test func restartContinuesFromTheExistingTable() async throws {
        let fake = FakeNFTables()
        let first = Self.backend(fake, time: Time())
        try await first.start()
        _ = await first.apply(await first.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))

        let second = Self.backend(fake, time: Time())
        try await second.start()
        let outcome = await second.apply(
            await second.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))
        #expect(outcome.result == .succeeded)
        let written = try #require(fake.lastTransaction)
        #expect(!written.operations.contains(.addChain(NFTChain(name: "endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80"))))
        #expect(!written.operations.contains { if case .deleteChain = $0 { return true } else { return false } })
    }

    @Test func failedCleanupIsCountedAndDoesNotFailTheSync() async throws {
        let fake = FakeNFTables()
        let time = Time()
        let backend = Self.backend(fake, time: time)
        try await backend.start()
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: Self.delta(endpointsOf: [Self.name])))
        time.advance(.seconds(2))
        fake.failNextRuns()
        let outcome = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.2"]), delta: SyncDelta()))
        #expect(outcome.result == .succeeded)
        #expect(outcome.ruleFacts?.failures == [.nftablesCleanup])
    }

    @Test func unavailableNftIsFatalAtStart() async {
        let fake = FakeNFTables()
        fake.setAvailable(false)
        await #expect(throws: KubeProxyConfiguration.Problem.self) { try await Self.backend(fake, time: Time()).start() }
    }

    /// ServiceCIDRs of this family become the drop rule in the next (partial) sync.
    @Test func serviceCIDRsFeedTheDropRule() async throws {
        let fake = FakeNFTables()
        let backend = Self.backend(fake, time: Time())
        try await backend.start()
        _ = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: Self.delta(endpointsOf: [Self.name])))
        #expect(fake.table(.ip)?.rules(of: "cluster-ips-check")?.count == 1)
        await backend.serviceCIDRsChanged([CIDR("172.30.0.0/16")!, CIDR("fd00:10:96::/112")!])
        let outcome = await backend.apply(await backend.plan(snapshot: Self.snapshot(["10.0.1.1"]), delta: SyncDelta()))
        #expect(outcome.kind == .partial)
        #expect(
            fake.table(.ip)?.rules(of: "cluster-ips-check")?.last
                == "ip daddr { 172.30.0.0/16 } drop comment \"Drop traffic to unallocated ClusterIPs\"")
    }

    /// The Node's zone label selects zone-hinted endpoints, through a full sync.
    @Test func nodeZoneLabelSelectsHintedEndpoints() async throws {
        let fake = FakeNFTables()
        let backend = Self.backend(fake, time: Time())
        try await backend.start()
        let port = ServicePort(name: Self.name, clusterIP: IPAddress("172.30.0.41")!, port: 80)
        let hinted = ProxySnapshot(
            family: .ipv4, servicePorts: [Self.name: port],
            endpoints: [
                Self.name: [
                    Endpoint(ip: IPAddress("10.0.1.1")!, port: 80, zoneHints: ["zone-a"]),
                    Endpoint(ip: IPAddress("10.0.1.2")!, port: 80, zoneHints: ["zone-b"]),
                ]
            ])
        _ = await backend.apply(await backend.plan(snapshot: hinted, delta: Self.delta(endpointsOf: [Self.name])))
        let chain = "service-ULMVA6XW-ns1/svc1/tcp/p80"
        #expect(fake.table(.ip)?.rules(of: chain)?.last?.contains("mod 2 vmap") == true)
        var node = Node(metadata: ObjectMeta(name: "node-1"))
        node.metadata.labels = [WellKnownLabels.topologyZone: "zone-a"]
        await backend.nodeChanged(node)
        let outcome = await backend.apply(await backend.plan(snapshot: hinted, delta: SyncDelta()))
        #expect(outcome.kind == .full)
        #expect(
            fake.table(.ip)?.rules(of: chain)?.last
                == "numgen random mod 1 vmap { 0 : goto endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 }")
    }

    /// Above 1,000 service ports every chain moves to set-less balancing in one full sync, and
    /// back to upstream's verdict maps at 800 or fewer.
    @Test func balancingFormFollowsTheClusterSize() async throws {
        func snapshot(ports count: Int) -> ProxySnapshot {
            var ports: [ServicePortName: ServicePort] = [:]
            var endpoints: [ServicePortName: [Endpoint]] = [:]
            for index in 0..<count {
                let name = ServicePortName(namespace: "ns", name: "svc\(index)", port: "p80")
                ports[name] = ServicePort(name: name, clusterIP: .v4(0xac1e_0000 + UInt32(index)), port: 80)
                endpoints[name] = [
                    Endpoint(ip: .v4(0x0a00_0000 + UInt32(index) * 2), port: 80),
                    Endpoint(ip: .v4(0x0a00_0001 + UInt32(index) * 2), port: 80),
                ]
            }
            return ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
        }
        func balancing(_ fake: FakeNFTables) -> [String] {
            let chain = fake.table(.ip)?.chains.keys.first { $0.hasPrefix("service-") && $0.contains("ns/svc0/") } ?? ""
            return (fake.table(.ip)?.rules(of: chain) ?? []).filter { $0.contains("numgen") || $0.hasPrefix("goto") }
        }
        let fake = FakeNFTables()
        let backend = Self.backend(fake, time: Time())
        try await backend.start()
        let small = await backend.apply(await backend.plan(snapshot: snapshot(ports: 1000), delta: SyncDelta()))
        #expect(small.kind == .full)
        #expect(balancing(fake).count == 1 && balancing(fake).first?.contains("numgen random mod 2 vmap") == true)

        let large = await backend.apply(await backend.plan(snapshot: snapshot(ports: 1001), delta: SyncDelta()))
        #expect(large.kind == .full, "every chain changes form")
        #expect(balancing(fake).count == 2 && balancing(fake).first?.hasPrefix("numgen random mod 2 0 goto") == true)

        let stays = await backend.apply(await backend.plan(snapshot: snapshot(ports: 900), delta: SyncDelta()))
        #expect(stays.kind == .partial, "no flapping between 800 and 1,000")
        let back = await backend.apply(await backend.plan(snapshot: snapshot(ports: 800), delta: SyncDelta()))
        #expect(back.kind == .full)
        #expect(balancing(fake).count == 1)
    }
}
