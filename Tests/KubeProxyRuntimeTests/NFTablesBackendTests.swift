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
            KernelModeOptions(
                family: .ipv4, topology: NodeTopology(nodeName: "node-1"), localDetector: .cidr(CIDR("10.0.0.0/8")!),
                nodePortAddresses: NodePortAddresses(["primary"], family: .ipv4), nodeIPs: [IPAddress("192.168.0.2")!],
                localAddresses: [IPAddress("192.168.0.2")!]))
        return NFTablesBackend(options: options, executor: fake, now: time.now, logger: Logger(label: "test"))
    }

    /// A started backend over a fake (its own unless given: a restart shares one) and its own
    /// clock, with one-line syncs.
    struct Fixture {
        let fake: FakeNFTables
        let time = Time()
        let backend: NFTablesBackend

        init(fake: FakeNFTables = FakeNFTables()) async throws {
            self.fake = fake
            backend = NFTablesBackendTests.backend(fake, time: time)
            try await backend.start()
        }

        /// Plans and applies `snapshot` with `delta`.
        @discardableResult func sync(_ snapshot: ProxySnapshot, delta: SyncDelta = SyncDelta()) async -> SyncOutcome {
            await backend.apply(await backend.plan(snapshot: snapshot, delta: delta))
        }

        /// Syncs svc1 with `endpoints`, reported as changed unless `changed` is false.
        @discardableResult func sync(_ endpoints: [String], changed: Bool = true) async -> SyncOutcome {
            let tests = NFTablesBackendTests.self
            return await sync(tests.snapshot(endpoints), delta: changed ? tests.delta(endpointsOf: [tests.name]) : SyncDelta())
        }
    }

    @Test func syncsAreFullFirstThenPartial() async throws {
        let f = try await Fixture()

        let first = await f.sync(["10.0.1.1"])
        #expect(first.result == .succeeded)
        #expect(first.kind == .full)
        #expect(f.fake.table(.ip)?.elements(of: "service-ips") == ["172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80"])

        let idle = await f.sync(["10.0.1.1"], changed: false)
        #expect(idle.kind == .partial)
        #expect(idle.ruleFacts?.rulesWrittenPerTable == ["kube-proxy": 0])
        #expect(f.fake.transactions.count == 1, "an idle sync runs no transaction")

        let moved = await f.sync(["10.0.1.2"])
        #expect(moved.ruleFacts?.rulesWrittenPerTable == ["kube-proxy": 9])

        // A second later the old endpoint chain is deleted in its own transaction.
        f.time.advance(.seconds(2))
        await f.sync(["10.0.1.2"], changed: false)
        #expect(f.fake.lastTransaction?.operations == [.deleteChain("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80")])
        #expect(await f.backend.kernelState.staleSince.isEmpty)
    }

    /// The clean-up runs after the change it shares a sync with (its `delete` makes nft 1.0.x
    /// dump every chain first), and a stale chain it deleted is not flushed again later.
    @Test func staleChainsAreDeletedAfterTheChange() async throws {
        let f = try await Fixture()
        await f.sync(["10.0.1.1"])
        await f.sync(["10.0.1.2"])
        f.time.advance(.seconds(2))
        let outcome = await f.sync(["10.0.1.3"])
        #expect(outcome.result == .succeeded)
        let last = f.fake.transactions.suffix(2).map(\.operations)
        let flushesNewlyStale = last.first?.contains {
            if case .flushChain(let name) = $0 { name.hasSuffix("__10.0.1.2/80") } else { false }
        }
        #expect(flushesNewlyStale == true, "the main transaction first")
        #expect(last.last == [.deleteChain("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80")])

        f.time.advance(.seconds(2))
        await f.sync(["10.0.1.4"])
        let main = try #require(f.fake.transactions.suffix(2).first)
        #expect(!main.operations.contains(.flushChain("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80")))
        #expect(f.fake.table(.ip)?.chains["endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80"] == nil)
    }

    @Test func failureForcesAFullSyncThatRereadsTheTable() async throws {
        let f = try await Fixture()
        await f.sync(["10.0.1.1"])

        // Someone deletes our table behind our back, and the next transaction fails.
        _ = try await f.fake.deleteTable(family: .ipv4, name: "kube-proxy")
        f.fake.failNextRuns()
        let failed = await f.sync(["10.0.1.2"])
        #expect(failed.isProgrammed == false)
        #expect(failed.ruleFacts?.failures == [.nftablesSync])

        let retry = await f.sync(["10.0.1.2"], changed: false)
        #expect(retry.result == .succeeded)
        #expect(retry.kind == .full)
        #expect(f.fake.table(.ip)?.rules(of: "endpoint-ZCZBVNAZ-ns1/svc1/tcp/p80__10.0.1.2/80")?.count == 2)
    }

    @Test func restartContinuesFromTheExistingTable() async throws {
        let first = try await Fixture()
        await first.sync(["10.0.1.1"])

        let second = try await Fixture(fake: first.fake)
        let outcome = await second.sync(["10.0.1.1"])
        #expect(outcome.result == .succeeded)
        let written = try #require(second.fake.lastTransaction)
        #expect(!written.operations.contains(.addChain(NFTChain(name: "endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80"))))
        #expect(!written.operations.contains { if case .deleteChain = $0 { return true } else { return false } })
    }

    @Test func failedCleanupIsCountedAndDoesNotFailTheSync() async throws {
        let f = try await Fixture()
        await f.sync(["10.0.1.1"])
        await f.sync(["10.0.1.2"])
        f.time.advance(.seconds(2))
        f.fake.failNextRuns()
        let outcome = await f.sync(["10.0.1.2"], changed: false)
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
        let f = try await Fixture()
        await f.sync(["10.0.1.1"])
        #expect(f.fake.table(.ip)?.rules(of: "cluster-ips-check")?.count == 1)
        await f.backend.serviceCIDRsChanged([CIDR("172.30.0.0/16")!, CIDR("fd00:10:96::/112")!])
        let outcome = await f.sync(["10.0.1.1"], changed: false)
        #expect(outcome.kind == .partial)
        #expect(
            f.fake.table(.ip)?.rules(of: "cluster-ips-check")?.last
                == "ip daddr { 172.30.0.0/16 } drop comment \"Drop traffic to unallocated ClusterIPs\"")
    }

    /// The Node's zone label selects zone-hinted endpoints, through a full sync.
    @Test func nodeZoneLabelSelectsHintedEndpoints() async throws {
        let f = try await Fixture()
        let port = ServicePort(name: Self.name, clusterIP: IPAddress("172.30.0.41")!, port: 80)
        let hinted = ProxySnapshot(
            family: .ipv4, servicePorts: [Self.name: port],
            endpoints: [
                Self.name: [
                    Endpoint(ip: IPAddress("10.0.1.1")!, port: 80, zoneHints: ["zone-a"]),
                    Endpoint(ip: IPAddress("10.0.1.2")!, port: 80, zoneHints: ["zone-b"]),
                ]
            ])
        await f.sync(hinted, delta: Self.delta(endpointsOf: [Self.name]))
        let chain = "service-ULMVA6XW-ns1/svc1/tcp/p80"
        #expect(f.fake.table(.ip)?.rules(of: chain)?.last?.contains("mod 2 vmap") == true)
        var node = Node(metadata: ObjectMeta(name: "node-1"))
        node.metadata.labels = [WellKnownLabels.topologyZone: "zone-a"]
        await f.backend.nodeChanged(node)
        let outcome = await f.sync(hinted)
        #expect(outcome.kind == .full)
        #expect(
            f.fake.table(.ip)?.rules(of: chain)?.last
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
        let f = try await Fixture()
        let small = await f.sync(snapshot(ports: 1000))
        #expect(small.kind == .full)
        #expect(balancing(f.fake).count == 1 && balancing(f.fake).first?.contains("numgen random mod 2 vmap") == true)

        let large = await f.sync(snapshot(ports: 1001))
        #expect(large.kind == .full, "every chain changes form")
        #expect(balancing(f.fake).count == 2 && balancing(f.fake).first?.hasPrefix("numgen random mod 2 0 goto") == true)

        let stays = await f.sync(snapshot(ports: 900))
        #expect(stays.kind == .partial, "no flapping between 800 and 1,000")
        let back = await f.sync(snapshot(ports: 800))
        #expect(back.kind == .full)
        #expect(balancing(f.fake).count == 1)
    }
}
