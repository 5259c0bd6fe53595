/// Label keys kube-proxy reads, in one place so no component spells them differently.
public enum WellKnownLabels {
    /// On a Service: the proxy that handles it. kube-proxy skips Services that carry this label
    /// (unless the value is its own configured name), so alternative proxies can take them over.
    public static let serviceProxyName = "service.kubernetes.io/service-proxy-name"
    /// On a Service: marks it headless; such Services are not proxied.
    public static let headless = "service.kubernetes.io/headless"
    /// On an EndpointSlice: the name of the Service it belongs to.
    public static let serviceName = "kubernetes.io/service-name"
    /// On a Node: its topology zone, compared with endpoint zone hints.
    public static let topologyZone = "topology.kubernetes.io/zone"
}

/// Annotation keys kube-proxy reads.
public enum WellKnownAnnotations {
    /// On Endpoints/EndpointSlices: when the change that produced them was triggered; the start
    /// of the network-programming-latency metric.
    public static let endpointsLastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time"
}
