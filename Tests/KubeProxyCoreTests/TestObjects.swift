import KubeAPI
import KubeProxyCore

/// Hand-built API objects with documentation-range addresses (never dialled).
enum TestObjects {
    static func service(
        _ name: String = "svc1", namespace: String? = "ns1",
        clusterIP: String? = "172.30.0.41", clusterIPs: [String]? = nil,
        type: String? = nil,
        ports: [ServicePortSpec] = [ServicePortSpec(name: "p80", protocol: "TCP", port: 80)],
        labels: [String: String]? = nil,
        configure: (inout ServiceSpec) -> Void = { _ in },
        status: ServiceStatus? = nil,
        resourceVersion: String? = nil
    ) -> Service {
        var spec = ServiceSpec(ports: ports, clusterIP: clusterIP, clusterIPs: clusterIPs, type: type)
        configure(&spec)
        return Service(
            metadata: ObjectMeta(name: name, namespace: namespace, resourceVersion: resourceVersion, labels: labels),
            spec: spec, status: status)
    }

    static func endpoint(
        _ address: String, ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil,
        nodeName: String? = nil, zone: String? = nil, zoneHints: [String]? = nil, nodeHints: [String]? = nil
    ) -> EndpointSliceEndpoint {
        let conditions =
            ready == nil && serving == nil && terminating == nil
            ? nil : EndpointConditions(ready: ready, serving: serving, terminating: terminating)
        let hints =
            zoneHints == nil && nodeHints == nil
            ? nil
            : EndpointHints(
                forZones: zoneHints?.map { ForZone(name: $0) }, forNodes: nodeHints?.map { ForNode(name: $0) })
        return EndpointSliceEndpoint(
            addresses: [address], conditions: conditions, nodeName: nodeName, zone: zone, hints: hints)
    }

    static func slice(
        _ name: String = "svc1-abcde", namespace: String = "ns1", service: String? = "svc1",
        addressType: String = "IPv4",
        endpoints: [EndpointSliceEndpoint],
        ports: [EndpointSlicePort] = [EndpointSlicePort(name: "p80", protocol: "TCP", port: 8080)],
        labels: [String: String] = [:],
        triggerTime: String? = nil
    ) -> EndpointSlice {
        var allLabels = labels
        if let service { allLabels[WellKnownLabels.serviceName] = service }
        let annotations = triggerTime.map { [WellKnownAnnotations.endpointsLastChangeTriggerTime: $0] }
        return EndpointSlice(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: allLabels, annotations: annotations),
            addressType: addressType, endpoints: endpoints, ports: ports)
    }

    static func ip(_ text: String) -> IPAddress {
        guard let ip = IPAddress(text) else { fatalError("bad test IP \(text)") }
        return ip
    }

    static func portName(_ service: String = "svc1", _ port: String = "p80", _ proto: TransportProtocol = .tcp)
        -> ServicePortName
    {
        ServicePortName(namespace: "ns1", name: service, port: port, protocol: proto)
    }
}
