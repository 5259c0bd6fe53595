import KubeProxyCore

/// Where the sync loop reports what it did: health, metrics and per-service health checks.
///
/// All optional so tests of the loop's logic need none of them; the builder passes the
/// real ones.
public struct ProxyObservers: Sendable {
    /// `/healthz` and `/livez` state.
    public var health: HealthHolder?
    /// `kubeproxy_*` metrics.
    public var metrics: ProxyMetrics?
    /// Per-service `healthCheckNodePort` servers.
    public var serviceHealth: ServiceHealthServers?
    /// Called after every sync that reached the backend, with the outcome, the family and the
    /// sync's duration: where a mode's own metrics (rule counts, full/partial durations,
    /// restore failures) and conntrack cleanup of `staleUDPServicePorts` hook in.
    public var syncOutcome: (@Sendable (SyncOutcome, IPFamily, Duration) async -> Void)?
    /// Clears stale UDP conntrack entries after programmed syncs (kernel modes; the userspace
    /// backend handles its own, since its flows end at the proxy's sockets).
    public var conntrack: ConntrackReconciler?

    /// Creates a set of observers.
    public init(
        health: HealthHolder? = nil, metrics: ProxyMetrics? = nil, serviceHealth: ServiceHealthServers? = nil,
        syncOutcome: (@Sendable (SyncOutcome, IPFamily, Duration) async -> Void)? = nil,
        conntrack: ConntrackReconciler? = nil
    ) {
        self.health = health
        self.metrics = metrics
        self.serviceHealth = serviceHealth
        self.syncOutcome = syncOutcome
        self.conntrack = conntrack
    }
}

/// Facts about a snapshot that health checks and metrics need, computed in one pass.
struct LocalEndpointFacts: Equatable {
    /// Service ports with `internalTrafficPolicy: Local` and no local endpoint.
    var internalWithoutLocal = 0
    /// Service ports with an effective `externalTrafficPolicy: Local` and no local endpoint.
    var externalWithoutLocal = 0
    /// Services needing a health check server: port and number of local ready endpoints
    /// (unique `ip:port` across the Service's ports, as upstream counts them).
    var healthChecks: [NamespacedName: (port: Int, localEndpoints: Int)] = [:]

    static func == (lhs: LocalEndpointFacts, rhs: LocalEndpointFacts) -> Bool {
        lhs.internalWithoutLocal == rhs.internalWithoutLocal && lhs.externalWithoutLocal == rhs.externalWithoutLocal
            && lhs.healthChecks.mapValues { [$0.port, $0.localEndpoints] }
                == rhs.healthChecks.mapValues { [$0.port, $0.localEndpoints] }
    }

    init() {}

    init(snapshot: ProxySnapshot, nodeName: String) {
        var localReady: [NamespacedName: Set<EndpointAddress>] = [:]
        for port in snapshot.servicePorts.values where port.usesLocalEndpoints {
            let endpoints = snapshot.endpoints(for: port.name)
            let local = EndpointSelection.localEndpoints(endpoints, nodeName: nodeName)
            if port.internalPolicyLocal && local.isEmpty { internalWithoutLocal += 1 }
            if port.externalPolicyLocal && local.isEmpty { externalWithoutLocal += 1 }
            if port.externalPolicyLocal && port.healthCheckNodePort != 0 {
                let ready = endpoints.filter { $0.ready && EndpointSelection.isLocal($0, nodeName: nodeName) }
                localReady[port.name.service, default: []].formUnion(ready.map(\.address))
                healthChecks[port.name.service] = (port.healthCheckNodePort, 0)
            }
        }
        for (service, addresses) in localReady { healthChecks[service]?.localEndpoints = addresses.count }
    }
}
