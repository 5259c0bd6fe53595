import KubeProxyCore
import KubeProxyNFTables
import KubeProxyTesting
import Testing

/// Upstream's fixture conventions (spec §5.4): node `test-node` at 192.168.0.2 (also owning
/// 192.168.1.2 and 192.168.99.11), pods in 10.0.0.0/8, ClusterIPs in 172.30.0.0/16,
/// nodeport-addresses 192.168.0.2/32 and 2001:db8::1/128.
enum Fixture {
    static let nodeName = "test-node"

    static func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { preconditionFailure("bad fixture address \(text)") }
        return address
    }

    static func cidr(_ text: String) -> CIDR {
        guard let cidr = CIDR(text) else { preconditionFailure("bad fixture CIDR \(text)") }
        return cidr
    }

    static func options(
        family: IPFamily = .ipv4, masqueradeAll: Bool = false, detector: LocalTrafficDetector? = nil,
        nodePortAddresses: [String] = ["192.168.0.2/32", "2001:db8::1/128"], serviceCIDRs: [String]? = nil
    ) -> NFTRenderOptions {
        let v4 = family == .ipv4
        let common = KernelModeOptions(
            family: family,
            topology: NodeTopology(nodeName: nodeName),
            masqueradeAll: masqueradeAll,
            localDetector: detector ?? .cidr(cidr(v4 ? "10.0.0.0/8" : "fd00:10::/64")),
            nodePortAddresses: NodePortAddresses(nodePortAddresses, family: family),
            nodeIPs: [ip(v4 ? "192.168.0.2" : "2001:db8::1")],
            localAddresses: Set(
                ["127.0.0.1", "::1", "192.168.0.2", "192.168.1.2", "192.168.99.11", "2001:db8::1", "2001:db8:1::2"].map(ip)))
        return NFTRenderOptions(common, serviceCIDRs: (serviceCIDRs ?? [v4 ? "172.30.0.0/16" : "fd00:10:96::/112"]).map(cidr))
    }

    static func name(_ namespace: String, _ service: String, _ port: String = "p80", _ proto: TransportProtocol = .tcp)
        -> ServicePortName
    {
        ServicePortName(namespace: namespace, name: service, port: port, protocol: proto)
    }

    static func endpoint(_ address: String, _ port: Int = 80, node: String? = nil) -> Endpoint {
        Endpoint(ip: ip(address), port: port, nodeName: node)
    }

    /// The six services of upstream's TestOverallNFTablesRules (spec §3.8 / §2.10).
    static func sixServices() -> ProxySnapshot {
        let ports = [
            ServicePort(name: name("ns1", "svc1"), clusterIP: ip("172.30.0.41"), port: 80),
            ServicePort(
                name: name("ns2", "svc2"), clusterIP: ip("172.30.0.42"), port: 80, nodePort: 3001, externalIPs: [ip("192.168.99.22")],
                loadBalancerIPs: [ip("1.2.3.4")], externalTrafficPolicy: .local, healthCheckNodePort: 30000),
            ServicePort(name: name("ns3", "svc3"), clusterIP: ip("172.30.0.43"), port: 80, nodePort: 3003),
            ServicePort(name: name("ns4", "svc4"), clusterIP: ip("172.30.0.44"), port: 80, externalIPs: [ip("192.168.99.33")]),
            ServicePort(
                name: name("ns5", "svc5"), clusterIP: ip("172.30.0.45"), port: 80, nodePort: 3002, loadBalancerIPs: [ip("5.6.7.8")],
                loadBalancerSourceRanges: [cidr(" 203.0.113.0/25")], sessionAffinity: .clientIP(timeoutSeconds: 10800),
                healthCheckNodePort: 30000),
            ServicePort(name: name("ns6", "svc6"), clusterIP: ip("172.30.0.46"), port: 80),
        ]
        let endpoints: [ServicePortName: [Endpoint]] = [
            name("ns1", "svc1"): [endpoint("10.180.0.1")],
            name("ns2", "svc2"): [endpoint("10.180.0.2")],
            name("ns3", "svc3"): [endpoint("10.180.0.3")],
            name("ns4", "svc4"): [endpoint("10.180.0.4"), endpoint("10.180.0.5", node: nodeName)],
            name("ns5", "svc5"): [endpoint("10.180.0.3")],
        ]
        return ProxySnapshot(
            family: .ipv4, servicePorts: Dictionary(uniqueKeysWithValues: ports.map { ($0.name, $0) }), endpoints: endpoints)
    }

    /// A table loaded from upstream-style dump text without reference checks (upstream's
    /// expectations list a chain's rules before the chains they jump to).
    static func table(_ text: String, family: NFTFamily = .ip) throws -> FakeNFTable {
        let transaction = try NFTTransaction(parsing: text, family: family)
        var table = FakeNFTable(family: family)
        for operation in transaction.operations {
            if case .addTable = operation { continue }
            try table.apply(operation, line: transaction.line(for: operation), validating: false)
        }
        return table
    }
}

/// Compares two tables structurally: the same chains (hooks, rules in order) and the same sets
/// and maps (definitions, elements), reporting each difference by name.
func expectSameTable(_ actual: FakeNFTable?, _ expected: FakeNFTable, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let actual else {
        Issue.record("table missing", sourceLocation: sourceLocation)
        return
    }
    #expect(Set(actual.chains.keys) == Set(expected.chains.keys), "chains", sourceLocation: sourceLocation)
    for name in expected.chains.keys.sorted() where actual.chains[name] != nil {
        #expect(
            actual.chains[name]?.definition.base == expected.chains[name]?.definition.base, "hook of \(name)",
            sourceLocation: sourceLocation)
        #expect(actual.rules(of: name) == expected.rules(of: name), "rules of \(name)", sourceLocation: sourceLocation)
    }
    #expect(Set(actual.sets.keys) == Set(expected.sets.keys), "sets", sourceLocation: sourceLocation)
    for name in expected.sets.keys.sorted() where actual.sets[name] != nil {
        #expect(actual.sets[name]?.definition == expected.sets[name]?.definition, "definition of \(name)", sourceLocation: sourceLocation)
        #expect(actual.elements(of: name) == expected.elements(of: name), "elements of \(name)", sourceLocation: sourceLocation)
    }
}

/// Drives syncs the way the backend does: plan against the kept state, run the clean-up and the
/// main transaction on the fake, commit what succeeded.
struct SyncDriver {
    var renderer: NFTRenderer
    let fake = FakeNFTables()
    var state: NFTKernelState
    var now: Duration = .seconds(100)

    init(options: NFTRenderOptions = Fixture.options()) {
        renderer = NFTRenderer(options: options)
        state = NFTKernelState(family: NFTFamily(options.family))
    }

    /// Runs one sync; returns the plan that ran.
    @discardableResult
    mutating func sync(_ snapshot: ProxySnapshot, changed: Set<ServicePortName> = [], full: Bool = false) throws -> NFTSyncPlan {
        let plan = state.plan(renderer.render(snapshot), changed: changed, full: full, now: now)
        if !plan.main.isEmpty { try fake.apply(text: plan.main.text) }
        state.commitMain(plan)
        if !plan.cleanup.isEmpty {
            try fake.apply(text: plan.cleanup.text)
            state.commitCleanup(plan)
        }
        return plan
    }
}
