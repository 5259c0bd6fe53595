import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// Parses a prefix literal (tests only).
func cidr(_ text: String) -> CIDR {
    guard let value = CIDR(text) else { fatalError("bad test prefix \(text)") }
    return value
}

/// `ns/name:port` over `protocol`.
func portName(_ namespace: String, _ name: String, _ port: String = "p80", _ proto: TransportProtocol = .tcp) -> ServicePortName {
    ServicePortName(namespace: namespace, name: name, port: port, protocol: proto)
}

/// An endpoint; ready and serving unless told otherwise.
func endpoint(
    _ address: String, _ port: Int = 80, node: String? = nil, ready: Bool = true, serving: Bool = true, terminating: Bool = false,
    zoneHints: Set<String> = []
) -> Endpoint {
    Endpoint(
        ip: ip(address), port: port, ready: ready, serving: serving, terminating: terminating, nodeName: node, zoneHints: zoneHints)
}

/// A snapshot of `ports` with `endpoints` keyed by port name.
func modeSnapshot(_ family: IPFamily = .ipv4, _ ports: [ServicePort], _ endpoints: [ServicePortName: [Endpoint]] = [:]) -> ProxySnapshot {
    ProxySnapshot(
        family: family, servicePorts: Dictionary(uniqueKeysWithValues: ports.map { ($0.name, $0) }),
        endpoints: endpoints.mapValues { $0.sorted() })
}

/// The fixture conventions of upstream's iptables tests (spec §5.4).
enum UpstreamFixture {
    /// Node `test-node`.
    static let topology = NodeTopology(nodeName: "test-node")

    /// Upstream's test proxier: pod CIDR 10.0.0.0/8 as the local detector, mark 0x4000,
    /// localhost NodePorts on, nodeport-addresses unset, node IP 192.168.0.2, no `--random-fully`.
    static func parameters(family: IPFamily = .ipv4, nfacct: Bool = false) -> IPTablesModeParameters {
        IPTablesModeParameters(
            KernelModeOptions(
                family: family, topology: topology,
                localDetector: .cidr(cidr(family == .ipv4 ? "10.0.0.0/8" : "fd00:10::/64")),
                nodeIPs: [ip(family == .ipv4 ? "192.168.0.2" : "2001:db8::1")]),
            randomFully: false, nfacctAvailable: nfacct)
    }

    /// The six services of `TestOverallIPTablesRules` (spec §2.10), as Core converts them.
    static func overallSnapshot() -> ProxySnapshot {
        let svc1 = ServicePort(name: portName("ns1", "svc1"), clusterIP: ip("172.30.0.41"), port: 80)
        let svc2 = ServicePort(
            name: portName("ns2", "svc2"), clusterIP: ip("172.30.0.42"), port: 80, nodePort: 3001, externalIPs: [ip("192.168.99.22")],
            loadBalancerIPs: [ip("1.2.3.4")], externalTrafficPolicy: .local, healthCheckNodePort: 30000)
        let svc3 = ServicePort(name: portName("ns3", "svc3"), clusterIP: ip("172.30.0.43"), port: 80, nodePort: 3003)
        let svc4 = ServicePort(name: portName("ns4", "svc4"), clusterIP: ip("172.30.0.44"), port: 80, externalIPs: [ip("192.168.99.33")])
        let svc5 = ServicePort(
            name: portName("ns5", "svc5"), clusterIP: ip("172.30.0.45"), port: 80, nodePort: 3002, loadBalancerIPs: [ip("5.6.7.8")],
            loadBalancerSourceRanges: [cidr(" 203.0.113.0/25")], sessionAffinity: .clientIP(timeoutSeconds: 10800))
        let svc6 = ServicePort(name: portName("ns6", "svc6"), clusterIP: ip("172.30.0.46"), port: 80)
        return modeSnapshot(
            .ipv4, [svc1, svc2, svc3, svc4, svc5, svc6],
            [
                svc1.name: [endpoint("10.180.0.1")],
                svc2.name: [endpoint("10.180.0.2")],
                svc3.name: [endpoint("10.180.0.3")],
                svc4.name: [endpoint("10.180.0.4"), endpoint("10.180.0.5", node: "test-node")],
                svc5.name: [endpoint("10.180.0.3")],
            ])
    }
}

/// Our chains of a rule set, per table and chain, each rule as its argument list: the
/// structural form goldens and kernel read-backs are compared in. Built-in chains and the
/// canary are left out; `saveOrder` puts arguments in iptables-save's order first (for
/// comparing with a fake or a kernel, which store rules that way).
func kubeChains(_ ruleSet: IPTablesRuleSet, saveOrder: Bool = false) -> [String: [String: [[String]]]] {
    var result: [String: [String: [[String]]]] = [:]
    for table in ruleSet.tables {
        let builtins = IPTablesTable.builtinChains(of: table.name) ?? []
        var chains: [String: [[String]]] = [:]
        for chain in table.chains where !builtins.contains(chain.name) && chain.name != IPTablesModeChain.canary {
            chains[chain.name] = chain.rules.map { saveOrder ? $0.saveOrdered.arguments : $0.arguments }
        }
        if !chains.isEmpty { result[table.name] = chains }
    }
    return result
}

/// A state and a stateful fake kernel, synced together: every sync reads the fake with
/// `save` (as the backend does on full syncs), restores the plan, records the outcome, and
/// checks the jump-consistency invariant on the resulting tables.
struct ModeHarness {
    let fake = FakeIPTables()
    var state: IPTablesModeState
    let family: IPFamily

    init(_ parameters: IPTablesModeParameters) {
        state = IPTablesModeState(parameters: parameters)
        family = parameters.family
    }

    /// The fake's current tables.
    var tables: IPTablesRuleSet { fake.ruleSet(family: family) }

    /// One sync of `snapshot`; throws when the restore fails (after recording the failure).
    @discardableResult
    mutating func sync(_ snapshot: ProxySnapshot, forceFull: Bool = false, sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> IPTablesModeSyncPlan
    {
        let current = try IPTablesRuleSet(parsingSave: try await fake.save(family: family))
        let plan = state.plan(snapshot: snapshot, current: current, forceFullSync: forceFull)
        do {
            for staging in plan.stagingScripts { try await fake.restore(staging.text, family: family) }
            try await fake.restore(plan.text, family: family)
        } catch {
            state.didFail(plan)
            throw error
        }
        state.didApply(plan)
        #expect(fake.jumpConsistencyProblems(family: family) == [], sourceLocation: sourceLocation)
        return plan
    }
}

/// `renderer.render(snapshot)` (exact arguments, for rule-family assertions), after checking
/// that a full sync of the same snapshot into a fresh fake kernel holds the same chains and
/// keeps the jump-consistency invariant.
func renderChecked(_ snapshot: ProxySnapshot, _ parameters: IPTablesModeParameters, sourceLocation: SourceLocation = #_sourceLocation)
    async throws -> IPTablesRuleSet
{
    var harness = ModeHarness(parameters)
    try await harness.sync(snapshot, sourceLocation: sourceLocation)
    let rendered = IPTablesModeRenderer(parameters: parameters).render(snapshot)
    #expect(kubeChains(harness.tables, saveOrder: true) == kubeChains(rendered, saveOrder: true), sourceLocation: sourceLocation)
    return rendered
}

/// The `-A` lines of `chain` in `table`, for readable expectations.
func ruleLines(_ ruleSet: IPTablesRuleSet, _ table: String, _ chain: String) -> [String] {
    ruleSet.rules(in: chain, table: table).map(\.description)
}

/// Expected `-A …` lines re-printed through the restore parser, so expectations may quote
/// comments or not, as upstream's texts do.
func normalized(_ lines: [String]) -> [String] {
    lines.map { line in IPTablesCommand(line: line)?.line ?? "unparsable: \(line)" }
}
