/// Which endpoints a service port uses (upstream `CategorizeEndpoints`), as pure functions.
///
/// Guarantees and fallbacks:
/// - **Cluster set:** ready endpoints allowed by the topology mode; if there are none, every
///   endpoint that is serving *and* terminating (topology ignored), so a rolling update whose
///   new pods are not ready yet keeps serving from the draining ones.
/// - **Local set:** local ready endpoints; if there are none, local serving+terminating ones.
///   Local means `nodeName == topology.nodeName`; an endpoint without a node name is remote.
/// - **Any endpoints:** true if any endpoint anywhere is ready or serving+terminating.
///   Not-serving endpoints are never used.
/// - **Topology mode** looks only at ready endpoints: PreferSameNode when the feature is on,
///   *every* ready endpoint has node hints and one names this node; else PreferSameZone when
///   every ready endpoint has zone hints and one names this node's zone; else no filtering.
///   Hints are honoured whatever the Service's `trafficDistribution` says (KEP-4444), and a
///   filter can never empty the set, because it is only chosen when a hint matches.
public enum EndpointSelection {
    /// How ready endpoints are filtered by topology hints.
    public enum TopologyMode: Hashable, Sendable {
        /// No filtering.
        case none
        /// Keep endpoints whose zone hints name this node's zone.
        case preferSameZone
        /// Keep endpoints whose node hints name this node.
        case preferSameNode
    }

    /// The topology mode the hints on the ready endpoints select for this node.
    public static func topologyMode(_ endpoints: [Endpoint], topology: NodeTopology) -> TopologyMode {
        var allHaveNodeHints = true, anyForNode = false
        var allHaveZoneHints = true, anyForZone = false
        for endpoint in endpoints where endpoint.ready {
            if endpoint.nodeHints.isEmpty {
                allHaveNodeHints = false
            } else if endpoint.nodeHints.contains(topology.nodeName) {
                anyForNode = true
            }
            if endpoint.zoneHints.isEmpty {
                allHaveZoneHints = false
            } else if let zone = topology.zone, endpoint.zoneHints.contains(zone) {
                anyForZone = true
            }
        }
        if topology.preferSameTrafficDistribution && allHaveNodeHints && anyForNode { return .preferSameNode }
        if allHaveZoneHints && anyForZone { return .preferSameZone }
        return .none
    }

    /// The cluster-policy set: topology-filtered ready endpoints, else serving+terminating ones.
    public static func clusterEndpoints(_ endpoints: [Endpoint], topology: NodeTopology) -> [Endpoint] {
        let mode = topologyMode(endpoints, topology: topology)
        let ready = endpoints.filter { $0.ready && isAvailable($0, mode: mode, topology: topology) }
        if !ready.isEmpty { return ready }
        return endpoints.filter(isServingTerminating)
    }

    /// The local-policy set: local ready endpoints, else local serving+terminating ones.
    public static func localEndpoints(_ endpoints: [Endpoint], nodeName: String) -> [Endpoint] {
        let local = endpoints.filter { isLocal($0, nodeName: nodeName) }
        let ready = local.filter(\.ready)
        if !ready.isEmpty { return ready }
        return local.filter(isServingTerminating)
    }

    /// Whether any endpoint anywhere is usable (ready, or serving and terminating).
    public static func hasAnyEndpoints(_ endpoints: [Endpoint]) -> Bool {
        endpoints.contains { $0.ready || isServingTerminating($0) }
    }

    /// The sets `servicePort`'s traffic policies use, and their union.
    public static func categorize(
        _ endpoints: [Endpoint], for servicePort: ServicePort, topology: NodeTopology
    ) -> CategorizedEndpoints {
        let cluster = servicePort.usesClusterEndpoints ? clusterEndpoints(endpoints, topology: topology) : nil
        let local = servicePort.usesLocalEndpoints ? localEndpoints(endpoints, nodeName: topology.nodeName) : nil
        let union = Set(cluster ?? []).union(local ?? [])
        return CategorizedEndpoints(
            cluster: cluster, local: local, allReachable: union.sorted(), hasAnyEndpoints: hasAnyEndpoints(endpoints))
    }

    /// Whether `endpoint` runs on `nodeName`.
    public static func isLocal(_ endpoint: Endpoint, nodeName: String) -> Bool {
        guard let node = endpoint.nodeName, !node.isEmpty else { return false }
        return node == nodeName
    }

    static func isServingTerminating(_ endpoint: Endpoint) -> Bool {
        endpoint.serving && endpoint.terminating
    }

    static func isAvailable(_ endpoint: Endpoint, mode: TopologyMode, topology: NodeTopology) -> Bool {
        switch mode {
        case .none: return true
        case .preferSameNode: return endpoint.nodeHints.contains(topology.nodeName)
        case .preferSameZone: return topology.zone.map { endpoint.zoneHints.contains($0) } ?? false
        }
    }
}
