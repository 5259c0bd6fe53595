import KubeAPI

/// Small, valid objects for tests and the demo server, so a test that needs "a Service with one
/// slice" does not spell out every field. Addresses should come from ranges that are never
/// routed (documentation or benchmarking ranges) unless a test really sends traffic.
public enum FakeAPISamples {
    /// A `ClusterIP` Service with one TCP port (`http`, 80 → 8080 by default).
    public static func service(
        name: String, namespace: String = "default", clusterIP: String, port: Int = 80, portName: String = "http",
        protocol: String = "TCP", targetPort: Int = 8080, labels: [String: String]? = nil
    ) -> Service {
        Service(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
            spec: ServiceSpec(
                ports: [ServicePortSpec(name: portName, protocol: `protocol`, port: port, targetPort: .int(targetPort))],
                selector: ["app": name], clusterIP: clusterIP, clusterIPs: [clusterIP], type: "ClusterIP",
                sessionAffinity: "None", ipFamilies: [clusterIP.contains(":") ? "IPv6" : "IPv4"], ipFamilyPolicy: "SingleStack",
                internalTrafficPolicy: "Cluster"
            )
        )
    }

    /// An EndpointSlice of `service` with ready endpoints at `addresses` on one port, labelled
    /// `kubernetes.io/service-name` and managed by the built-in controller.
    public static func endpointSlice(
        service: String, namespace: String = "default", name: String? = nil, addresses: [String], port: Int = 8080,
        portName: String = "http", protocol: String = "TCP", nodeName: String? = nil, extraLabels: [String: String] = [:]
    ) -> EndpointSlice {
        var labels = [WellKnownLabels.serviceName: service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"]
        labels.merge(extraLabels) { _, new in new }
        return EndpointSlice(
            metadata: ObjectMeta(name: name ?? "\(service)-slice", namespace: namespace, labels: labels),
            addressType: addresses.first.map { $0.contains(":") ? "IPv6" : "IPv4" } ?? "IPv4",
            endpoints: addresses.map { address in
                EndpointSliceEndpoint(
                    addresses: [address], conditions: EndpointConditions(ready: true, serving: true, terminating: false),
                    nodeName: nodeName
                )
            },
            ports: [EndpointSlicePort(name: portName, protocol: `protocol`, port: port)]
        )
    }

    /// A Node with an `InternalIP` and a pod CIDR.
    public static func node(name: String, internalIP: String, podCIDR: String? = nil, zone: String? = nil) -> Node {
        Node(
            metadata: ObjectMeta(name: name, labels: zone.map { [WellKnownLabels.topologyZone: $0] }),
            spec: NodeSpec(podCIDR: podCIDR, podCIDRs: podCIDR.map { [$0] }),
            status: NodeStatus(addresses: [NodeAddress(type: "InternalIP", address: internalIP)])
        )
    }
}
