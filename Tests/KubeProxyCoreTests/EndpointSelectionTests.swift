import KubeProxyCore
import Testing

@Suite("EndpointSelection")
struct EndpointSelectionTests {
    /// A compact endpoint: last octet, conditions, node and hints.
    static func ep(
        _ octet: Int, ready: Bool = true, serving: Bool = true, terminating: Bool = false, node: String? = nil,
        zones: Set<String> = [], nodes: Set<String> = []
    ) -> Endpoint {
        Endpoint(
            ip: .v4(0x0AB4_0000 | UInt32(octet)), port: 80, ready: ready, serving: serving, terminating: terminating,
            nodeName: node, zoneHints: zones, nodeHints: nodes)
    }

    static let here = NodeTopology(nodeName: "node-a", zone: "zone-a")

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var endpoints: [Endpoint]
        var topology: NodeTopology = EndpointSelectionTests.here
        var expected: [Int]
        var testDescription: String { name }
    }

    static let clusterCases: [Case] = [
        Case(name: "ready endpoints", endpoints: [ep(1), ep(2), ep(3, ready: false, serving: false)], expected: [1, 2]),
        Case(
            name: "no ready: serving+terminating fallback",
            endpoints: [
                ep(1, ready: false, serving: true, terminating: true), ep(2, ready: false, serving: false, terminating: true),
                ep(3, ready: false, serving: false),
            ], expected: [1]),
        Case(
            name: "ready ones win over terminating ones",
            endpoints: [ep(1, ready: false, serving: true, terminating: true), ep(2)], expected: [2]),
        Case(name: "nothing usable", endpoints: [ep(1, ready: false, serving: false)], expected: []),
        Case(
            name: "zone hints all present, one for our zone",
            endpoints: [ep(1, zones: ["zone-a"]), ep(2, zones: ["zone-b"]), ep(3, zones: ["zone-a", "zone-b"])],
            expected: [1, 3]),
        Case(
            name: "zone hints missing on one ready endpoint: no filtering",
            endpoints: [ep(1, zones: ["zone-a"]), ep(2)], expected: [1, 2]),
        Case(
            name: "hints missing on a not-ready endpoint do not matter",
            endpoints: [ep(1, zones: ["zone-a"]), ep(2, zones: ["zone-b"]), ep(3, ready: false, serving: false)],
            expected: [1]),
        Case(
            name: "no hint for our zone: no filtering",
            endpoints: [ep(1, zones: ["zone-b"]), ep(2, zones: ["zone-c"])], expected: [1, 2]),
        Case(
            name: "node has no zone label: no filtering",
            endpoints: [ep(1, zones: ["zone-a"]), ep(2, zones: ["zone-b"])],
            topology: NodeTopology(nodeName: "node-a"), expected: [1, 2]),
        Case(
            name: "node hints win over zone hints",
            endpoints: [ep(1, zones: ["zone-a"], nodes: ["node-b"]), ep(2, zones: ["zone-a"], nodes: ["node-a"])],
            expected: [2]),
        Case(
            name: "node hints ignored with the feature off",
            endpoints: [ep(1, zones: ["zone-a"], nodes: ["node-b"]), ep(2, zones: ["zone-b"], nodes: ["node-a"])],
            topology: NodeTopology(nodeName: "node-a", zone: "zone-a", preferSameTrafficDistribution: false),
            expected: [1]),
        Case(
            name: "topology is ignored in the terminating fallback",
            endpoints: [
                ep(1, ready: false, terminating: true, zones: ["zone-b"]), ep(2, ready: false, terminating: true),
            ], expected: [1, 2]),
    ]

    @Test(arguments: clusterCases)
    func clusterEndpoints(_ testCase: Case) {
        let selected = EndpointSelection.clusterEndpoints(testCase.endpoints, topology: testCase.topology)
        #expect(selected == testCase.expected.map { Self.ep(octetOf: $0, in: testCase.endpoints) })
    }

    static let localCases: [Case] = [
        Case(
            name: "local ready endpoints",
            endpoints: [ep(1, node: "node-a"), ep(2, node: "node-b"), ep(3), ep(4, ready: false, terminating: true, node: "node-a")],
            expected: [1]),
        Case(
            name: "no local ready: local serving+terminating fallback",
            endpoints: [
                ep(1, ready: false, terminating: true, node: "node-a"), ep(2, node: "node-b"),
                ep(3, ready: false, serving: false, terminating: true, node: "node-a"),
            ], expected: [1]),
        Case(name: "no local endpoints", endpoints: [ep(1, node: "node-b"), ep(2)], expected: []),
        Case(name: "topology hints do not filter local endpoints", endpoints: [ep(1, node: "node-a", zones: ["zone-z"])], expected: [1]),
    ]

    @Test(arguments: localCases)
    func localEndpoints(_ testCase: Case) {
        let selected = EndpointSelection.localEndpoints(testCase.endpoints, nodeName: testCase.topology.nodeName)
        #expect(selected == testCase.expected.map { Self.ep(octetOf: $0, in: testCase.endpoints) })
    }

    @Test(
        arguments: [
            ([ep(1)], true),
            ([ep(1, ready: false, serving: true, terminating: true)], true),
            ([ep(1, ready: false, serving: false, terminating: true), ep(2, ready: false, serving: true)], false),
            ([], false),
        ] as [([Endpoint], Bool)])
    func hasAnyEndpoints(_ endpoints: [Endpoint], expected: Bool) {
        #expect(EndpointSelection.hasAnyEndpoints(endpoints) == expected)
    }

    struct PolicyCase: Sendable, CustomTestStringConvertible {
        var name: String
        var internalPolicy: TrafficPolicy
        var externalPolicy: TrafficPolicy
        var nodePort: Int
        var cluster: [Int]?
        var local: [Int]?
        var testDescription: String { name }
    }

    /// Endpoints 1 (local), 2 (remote), 3 (local, terminating).
    static let mixed = [ep(1, node: "node-a"), ep(2, node: "node-b"), ep(3, ready: false, terminating: true, node: "node-a")]

    @Test(arguments: [
        PolicyCase(
            name: "Cluster/Cluster", internalPolicy: .cluster, externalPolicy: .cluster, nodePort: 30080, cluster: [1, 2], local: nil),
        PolicyCase(
            name: "internal Local, not external", internalPolicy: .local, externalPolicy: .cluster, nodePort: 0, cluster: nil, local: [1]),
        PolicyCase(
            name: "internal Local, external Cluster", internalPolicy: .local, externalPolicy: .cluster, nodePort: 30080, cluster: [1, 2],
            local: [1]),
        PolicyCase(name: "external Local", internalPolicy: .cluster, externalPolicy: .local, nodePort: 30080, cluster: [1, 2], local: [1]),
        PolicyCase(
            name: "both Local, external", internalPolicy: .local, externalPolicy: .local, nodePort: 30080, cluster: [1, 2],
            local: [1]),
        PolicyCase(name: "both Local, not external", internalPolicy: .local, externalPolicy: .local, nodePort: 0, cluster: nil, local: [1]),
    ])
    func categorizeFollowsTheTrafficPolicies(_ testCase: PolicyCase) {
        let port = ServicePort(
            name: ServicePortName(namespace: "ns1", name: "svc1", port: "p80"), clusterIP: .v4(0xAC1E_0029), port: 80,
            nodePort: testCase.nodePort, externalTrafficPolicy: testCase.externalPolicy,
            internalTrafficPolicy: testCase.internalPolicy)
        let result = EndpointSelection.categorize(Self.mixed, for: port, topology: Self.here)
        let byOctet = { (octets: [Int]) in octets.map { Self.ep(octetOf: $0, in: Self.mixed) } }
        #expect(result.cluster == testCase.cluster.map(byOctet))
        #expect(result.local == testCase.local.map(byOctet))
        #expect(result.allReachable == byOctet(Array(Set((testCase.cluster ?? []) + (testCase.local ?? []))).sorted()))
        #expect(result.hasAnyEndpoints)
    }

    @Test func categorizeUnionsTerminatingLocalEndpointsIntoAllReachable() {
        let endpoints = [Self.ep(1, node: "node-b"), Self.ep(2, ready: false, terminating: true, node: "node-a")]
        let port = ServicePort(
            name: ServicePortName(namespace: "ns1", name: "svc1", port: "p80"), clusterIP: .v4(0xAC1E_0029), port: 80,
            nodePort: 30080, externalTrafficPolicy: .local)
        let result = EndpointSelection.categorize(endpoints, for: port, topology: Self.here)
        #expect(result.cluster == [endpoints[0]])
        #expect(result.local == [endpoints[1]])
        #expect(result.allReachable == endpoints)
    }

    /// Under a Local policy only a local endpoint counts; under Cluster any usable one; with no
    /// usable endpoint at all neither does (the REJECT case, not a "no local endpoints" one).
    @Test func hasEndpointsFollowsThePolicy() {
        let remoteOnly = CategorizedEndpoints(cluster: [Self.ep(2)], local: [], allReachable: [Self.ep(2)], hasAnyEndpoints: true)
        #expect(remoteOnly.hasEndpoints(policyLocal: false))
        #expect(!remoteOnly.hasEndpoints(policyLocal: true))
        let withLocal = CategorizedEndpoints(cluster: [Self.ep(1)], local: [Self.ep(1)], allReachable: [Self.ep(1)], hasAnyEndpoints: true)
        #expect(withLocal.hasEndpoints(policyLocal: true))
        let none = CategorizedEndpoints(cluster: [], local: [], allReachable: [], hasAnyEndpoints: false)
        #expect(!none.hasEndpoints(policyLocal: false) && !none.hasEndpoints(policyLocal: true))
    }

    /// The endpoint with the given last octet from `endpoints`.
    static func ep(octetOf octet: Int, in endpoints: [Endpoint]) -> Endpoint {
        endpoints.first { $0.ip == .v4(0x0AB4_0000 | UInt32(octet)) } ?? ep(999)
    }
}
