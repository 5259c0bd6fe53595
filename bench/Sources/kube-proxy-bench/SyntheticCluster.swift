import KubeAPI

/// Generated API objects for the control plane benchmark: N ClusterIP Services with one TCP
/// port, each with one EndpointSlice of E ready endpoints.
///
/// Why generated in memory: the benchmark times our own trackers and state, not YAML or JSON
/// decoding, and must not depend on an API server. The shapes are what a real cluster sends
/// (names, labels, node names, conditions), so validation and conversion do their full work.
/// Services are spread over namespaces of 100, like a multi-tenant cluster.
struct SyntheticCluster: Sendable {
    /// The Services, index i named `svc-i` in namespace `ns-(i/100)`.
    var services: [Service]
    /// The slices, index i belonging to Service i.
    var slices: [EndpointSlice]

    /// The port the endpoints listen on.
    static let targetPort = 8080

    init(services count: Int, endpointsPerService: Int) {
        services = (0..<count).map(Self.service(index:))
        slices = (0..<count).map { Self.slice(index: $0, endpoints: endpointsPerService) }
    }

    static func namespace(of index: Int) -> String { "ns-\(index / 100)" }

    static func service(index: Int) -> Service {
        Service(
            metadata: ObjectMeta(
                name: "svc-\(index)", namespace: namespace(of: index), uid: "uid-svc-\(index)",
                resourceVersion: "1"),
            spec: ServiceSpec(
                ports: [ServicePortSpec(name: "http", protocol: "TCP", port: 80, targetPort: .int(targetPort))],
                selector: ["app": "svc-\(index)"],
                clusterIP: address(base: 96, index: index + 1), type: "ClusterIP"))
    }

    static func slice(index: Int, endpoints: Int) -> EndpointSlice {
        EndpointSlice(
            metadata: ObjectMeta(
                name: "svc-\(index)-x7k2p", namespace: namespace(of: index), uid: "uid-slice-\(index)",
                resourceVersion: "1", labels: [WellKnownLabels.serviceName: "svc-\(index)"]),
            addressType: "IPv4",
            endpoints: (0..<endpoints).map { offset in
                let n = index * endpoints + offset + 1
                return EndpointSliceEndpoint(
                    addresses: [address(base: 128, index: n)],
                    conditions: EndpointConditions(ready: true, serving: true, terminating: false),
                    nodeName: "node-\(n % 100)", zone: "zone-\(n % 3)")
            },
            ports: [EndpointSlicePort(name: "http", protocol: "TCP", port: targetPort)])
    }

    /// `10.(base + index>>16).(index>>8 & 255).(index & 255)`: unique per index below 2^22.
    static func address(base: Int, index: Int) -> String {
        "10.\(base + (index >> 16)).\((index >> 8) & 255).\(index & 255)"
    }

    /// The same slice with endpoint 0's readiness flipped: the smallest real change.
    static func toggled(_ slice: EndpointSlice) -> EndpointSlice {
        var changed = slice
        guard var endpoints = changed.endpoints, !endpoints.isEmpty else { return changed }
        let ready = endpoints[0].conditions?.ready ?? true
        endpoints[0].conditions = EndpointConditions(ready: !ready, serving: !ready, terminating: false)
        changed.endpoints = endpoints
        changed.metadata.resourceVersion = "\(Int(slice.metadata.resourceVersion ?? "1").map { $0 + 1 } ?? 2)"
        return changed
    }
}
