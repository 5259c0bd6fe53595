import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import KubeProxyTesting
import Testing

/// Replays rendered transactions on the real `nft` inside a fresh network namespace (never the
/// host's) and checks that the kernel ends up holding what the fake holds: proof that nft
/// accepts our syntax and that the fake's rules match the kernel's.
@Suite(.serialized) struct NFTRealKernelTests {
    static var skipReason: String? {
        if let reason = NetworkLab.unavailableReason { return reason }
        if NetworkLab.which("nft") == nil { return "real-nft tests need nft (install the nftables package)" }
        return nil
    }

    /// Runs every transaction on both the fake and the real nft, committing only on success.
    struct TwinDriver {
        var renderer: NFTRenderer
        let fake = FakeNFTables()
        let real: SystemNFTables
        var state: NFTKernelState
        var now: Duration = .seconds(100)

        init(options: NFTRenderOptions, netns: String) {
            renderer = NFTRenderer(options: options)
            real = SystemNFTables(netns: netns)
            state = NFTKernelState(family: NFTFamily(options.family))
        }

        mutating func sync(_ snapshot: ProxySnapshot, changed: Set<ServicePortName> = [], full: Bool = false) async throws {
            let plan = state.plan(renderer.render(snapshot), changed: changed, full: full, now: now)
            for transaction in [plan.main, plan.cleanup] where !transaction.isEmpty {
                try fake.apply(text: transaction.text)
                try await real.run(transaction.text)
            }
            state.commitMain(plan)
            state.commitCleanup(plan)
        }

        /// The real table and the fake one, both read through `nft -j` JSON.
        func listings() async throws -> (real: NFTKernelState, fake: NFTKernelState) {
            let family = renderer.family
            let realJSON = try #require(try await real.listTable(family: family.ipFamily, name: "kube-proxy"))
            let fakeJSON = try #require(try await fake.listTable(family: family.ipFamily, name: "kube-proxy"))
            return (try NFTKernelState(parsingJSON: realJSON, family: family), try NFTKernelState(parsingJSON: fakeJSON, family: family))
        }

        func expectKernelMatchesFake(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let (real, fake) = try await listings()
            #expect(real.tableExists && fake.tableExists, "\(step)", sourceLocation: sourceLocation)
            #expect(Set(real.chains.keys) == Set(fake.chains.keys), "\(step): chains", sourceLocation: sourceLocation)
            for (name, chain) in fake.chains {
                #expect(real.chains[name] == chain, "\(step): chain \(name)", sourceLocation: sourceLocation)
            }
            #expect(Set(real.sets.keys) == Set(fake.sets.keys), "\(step): sets", sourceLocation: sourceLocation)
            for (name, set) in fake.sets {
                #expect(real.sets[name] == set, "\(step): elements of \(name)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func goldenAndPartialSyncsOnRealNft() async throws {
        if let reason = Self.skipReason {
            print("skipped: \(reason)")
            return
        }
        let lab = NetworkLab()
        defer { lab.destroy() }
        let ns = try lab.addNamespace("nft")
        var driver = TwinDriver(options: Fixture.options(), netns: ns)

        var snapshot = Fixture.sixServices()
        try await driver.sync(snapshot, full: true)
        try await driver.expectKernelMatchesFake("six services")

        // Edit endpoints and services through partial syncs, with stale-chain deletion.
        var ports = snapshot.servicePorts
        var endpoints = snapshot.endpoints
        let svc4 = Fixture.name("ns4", "svc4"), svc5 = Fixture.name("ns5", "svc5"), svc1 = Fixture.name("ns1", "svc1")
        endpoints[svc4] = [Fixture.endpoint("10.180.0.4"), Fixture.endpoint("10.180.0.9", node: Fixture.nodeName)]
        endpoints[svc5] = []
        ports[svc1] = nil
        snapshot = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
        try await driver.sync(snapshot, changed: [svc4, svc5, svc1])
        try await driver.expectKernelMatchesFake("after edits")

        driver.now += .seconds(2)
        endpoints[svc5] = [Fixture.endpoint("10.180.0.7")]
        snapshot = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
        try await driver.sync(snapshot, changed: [svc5])
        try await driver.expectKernelMatchesFake("after stale deletion")
        #expect(driver.state.staleSince.isEmpty)

        // A restart: state read back from the real kernel, then a full sync adds nothing new.
        let listed = try #require(try await driver.real.listTable(family: .ipv4, name: "kube-proxy"))
        driver.state = try NFTKernelState(parsingJSON: listed, family: .ip)
        try await driver.sync(snapshot, full: true)
        try await driver.expectKernelMatchesFake("after restart")

        #expect(try await driver.real.deleteTable(family: .ipv4, name: "kube-proxy"))
        #expect(try await driver.real.deleteTable(family: .ipv4, name: "kube-proxy") == false)
        #expect(try await driver.real.listTable(family: .ipv4, name: "kube-proxy") == nil)
    }

    @Test func ipv6TableOnRealNft() async throws {
        if let reason = Self.skipReason {
            print("skipped: \(reason)")
            return
        }
        let lab = NetworkLab()
        defer { lab.destroy() }
        let ns = try lab.addNamespace("nft6")
        var driver = TwinDriver(options: Fixture.options(family: .ipv6), netns: ns)
        let name = Fixture.name("ns1", "svc1")
        let port = ServicePort(
            name: name, clusterIP: Fixture.ip("fd00:172:30::41"), port: 80, nodePort: 3001,
            loadBalancerIPs: [Fixture.ip("2001:db8:ff::1")], loadBalancerSourceRanges: [Fixture.cidr("2600:5200::/64")],
            sessionAffinity: .clientIP(timeoutSeconds: 300), externalTrafficPolicy: .local)
        let snapshot = ProxySnapshot(
            family: .ipv6, servicePorts: [name: port],
            endpoints: [name: [Fixture.endpoint("fd00:10::2", 8080, node: Fixture.nodeName), Fixture.endpoint("fd00:10::3", 8080)]])
        try await driver.sync(snapshot, full: true)
        try await driver.expectKernelMatchesFake("IPv6 service")
    }
}
