import KubeProxyCore
import KubeProxyIPTables
import KubeProxyNFTables
import KubeProxyTesting
import Logging
import NIOPosix
import Testing

@testable import KubeProxyRuntime

/// `--bind-address` and the interface-based local-traffic detectors reach both kernel modes
/// through `BackendContext.kernelModeOptions`: the backends are made from a parsed
/// configuration by the builder's own functions (`IPTablesBackend.make`,
/// `ProxyBuilder.nftablesBackend`), over fakes, and the rules they write are checked.
@Suite struct KernelModeFlagsTests {
    /// One way of telling pod traffic, and the matches it must render.
    struct Detector: Sendable, CustomTestStringConvertible {
        /// The configuration lines naming it.
        var yaml: String
        /// iptables arguments matching pod traffic (`localMatch`).
        var iptables: [String]
        /// nftables' match of pod traffic (`ifLocal`).
        var nftables: String
        /// nftables' match of other traffic (`ifNotLocal`).
        var nftablesNegated: String
        /// The iptables match names the test case.
        var testDescription: String { iptables.joined(separator: " ") }
    }

    /// `--detect-local-mode` values that match on interfaces (the CIDR ones are covered by the
    /// renderers' own tests).
    static let detectors = [
        Detector(
            yaml: "detectLocalMode: BridgeInterface\ndetectLocal:\n  bridgeInterface: cbr0", iptables: ["-i", "cbr0"],
            nftables: "iifname \"cbr0\"", nftablesNegated: "iifname != \"cbr0\""),
        Detector(
            yaml: "detectLocalMode: InterfaceNamePrefix\ndetectLocal:\n  interfaceNamePrefix: veth", iptables: ["-i", "veth+"],
            nftables: "iifname \"veth*\"", nftablesNegated: "iifname != \"veth*\""),
    ]

    /// Bind addresses of both families (documentation prefixes: never a host's address).
    static let bindAddresses: [IPFamily: IPAddress] = [.ipv4: .v4(0xc000_020a), .ipv6: IPAddress("2001:db8::a")!]

    /// The one service port of `snapshot`.
    static let name = ServicePortName(namespace: "ns", name: "web", port: "http")

    /// A NodePort service with `externalTrafficPolicy: Local`: its ClusterIP masquerade rule
    /// carries the negated detector and its external chain the detector itself.
    static func snapshot(_ family: IPFamily) -> ProxySnapshot {
        let clusterIP: IPAddress = family == .ipv4 ? .v4(0xac1e_000a) : IPAddress("fd00:30::a")!
        let endpoint: IPAddress = family == .ipv4 ? .v4(0x0a01_0001) : IPAddress("fd00:10::1")!
        let port = ServicePort(name: name, clusterIP: clusterIP, port: 80, nodePort: 30080, externalTrafficPolicy: .local)
        return ProxySnapshot(
            family: family, servicePorts: [name: port],
            endpoints: [name: [Endpoint(ip: endpoint, port: 8080, nodeName: "node-a")]])
    }

    /// The configuration as a file would give it (the flags set the same fields); NodePorts
    /// on the primary (= bind) address only, and no localhost NodePorts, so making the
    /// backend does not write `route_localnet` on the host.
    static func configuration(_ mode: String, detector: Detector, bind: IPAddress) throws -> KubeProxyConfiguration {
        let text = """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: \(mode)
            bindAddress: "\(bind)"
            hostnameOverride: node-a
            nodePortAddresses: [primary]
            iptables:
              localhostNodePorts: false
            \(detector.yaml)
            """
        let configuration = try ConfigurationFile.parse(text, file: "flags.yaml")
        #expect(configuration.validate().isEmpty)
        return configuration
    }

    /// Runs `body` with a context the way `ProxyBuilder.run` makes one.
    static func withContext(
        _ configuration: KubeProxyConfiguration, family: IPFamily, _ body: (BackendContext) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = BackendContext(
            configuration: configuration, nodeName: ProxyBuilder.nodeName(configuration), family: family, group: group,
            dataPlaneMetrics: DataPlaneMetrics(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            try await body(context)
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// Whether `arguments` hold `run` as consecutive words.
    static func contains(_ arguments: [String], _ run: [String]) -> Bool {
        arguments.count >= run.count
            && (0...(arguments.count - run.count)).contains { Array(arguments[$0..<($0 + run.count)]) == run }
    }

    @Test(arguments: detectors, IPFamily.allCases)
    func iptablesModeRendersTheDetectorAndTheBindAddress(_ detector: Detector, _ family: IPFamily) async throws {
        let bind = try #require(Self.bindAddresses[family])
        let configuration = try Self.configuration("iptables", detector: detector, bind: bind)
        try await Self.withContext(configuration, family: family) { context in
            let fake = FakeIPTables()
            let backend = try IPTablesBackend.make(context, executor: fake)
            try await backend.start()
            let outcome = await backend.apply(await backend.plan(snapshot: Self.snapshot(family), delta: SyncDelta()))
            #expect(outcome.isProgrammed)
            let nat = fake.ruleSet(family: family).tables.filter { $0.name == "nat" }.flatMap(\.rules)
            let names = ServiceChainNames(Self.name)
            let masquerade = nat.filter { $0.chain == names.clusterPolicy && $0.target == IPTablesModeChain.markMasquerade }
            #expect(masquerade.count == 1)
            #expect(masquerade.allSatisfy { Self.contains($0.arguments, ["!"] + detector.iptables) })
            // The other rule to the cluster chain is for the node's own (LOCAL) traffic.
            let podShortcut = nat.filter { $0.chain == names.external && $0.target == names.clusterPolicy }
            #expect(podShortcut.count == 2)
            #expect(podShortcut.count { Self.contains($0.arguments, detector.iptables) } == 1)
            // `--nodeport-addresses primary` is the bind address, which is this family's node IP
            // (the fake keeps rules as iptables-save prints them: with the prefix length).
            let toNodePorts = nat.filter { $0.chain == IPTablesModeChain.services && $0.target == IPTablesModeChain.nodePorts }
            #expect(toNodePorts.count == 1)
            let host = "\(bind)/\(family == .ipv4 ? 32 : 128)"
            #expect(toNodePorts.allSatisfy { Self.contains($0.arguments, ["-d", host]) })
        }
    }

    @Test(arguments: detectors, IPFamily.allCases)
    func nftablesModeRendersTheDetectorAndTheBindAddress(_ detector: Detector, _ family: IPFamily) async throws {
        let bind = try #require(Self.bindAddresses[family])
        let configuration = try Self.configuration("nftables", detector: detector, bind: bind)
        try await Self.withContext(configuration, family: family) { context in
            let fake = FakeNFTables()
            let backend = try ProxyBuilder.nftablesBackend(context, executor: fake)
            try await backend.start()
            let outcome = await backend.apply(await backend.plan(snapshot: Self.snapshot(family), delta: SyncDelta()))
            #expect(outcome.isProgrammed)
            let table = try #require(fake.table(NFTFamily(family)))
            let rules = table.chainOrder.flatMap { table.rules(of: $0) ?? [] }
            #expect(rules.contains { $0.contains(detector.nftablesNegated) })
            #expect(rules.contains { $0.contains(detector.nftables) })
            #expect(table.elements(of: NFTRenderer.nodePortIPsSet) == [bind.description])
        }
    }
}
