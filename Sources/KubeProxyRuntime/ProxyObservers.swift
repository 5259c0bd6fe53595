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

/// Facts about a snapshot that health checks and metrics need, kept up to date per sync.
///
/// Why incremental: only service ports with a `Local` traffic policy contribute, and only
/// those a sync's delta names can change, so `update(snapshot:delta:nodeName:)` looks at those
/// alone; at 10k service ports a walk over all of them on every one-slice sync was most of the
/// observers' cost. `init(snapshot:nodeName:)` computes the same from scratch (the reference
/// the tests compare with).
struct LocalEndpointFacts: Equatable {
    /// What one service port with a `Local` policy contributes.
    private struct PortFacts {
        var internalWithoutLocal: Bool
        var externalWithoutLocal: Bool
        /// The Service's health check node port and this port's local ready endpoints, when the
        /// port is external with `Local` policy and has a health check node port.
        var healthCheck: (port: Int, localReady: Set<EndpointAddress>)?
    }

    /// Service ports with `internalTrafficPolicy: Local` and no local endpoint.
    private(set) var internalWithoutLocal = 0
    /// Service ports with an effective `externalTrafficPolicy: Local` and no local endpoint.
    private(set) var externalWithoutLocal = 0
    /// Services needing a health check server: port and number of local ready endpoints
    /// (unique `ip:port` across the Service's ports, as upstream counts them).
    private(set) var healthChecks: [NamespacedName: (port: Int, localEndpoints: Int)] = [:]
    private var ports: [ServicePortName: PortFacts] = [:]
    /// The ports with a health check, per Service, to recount a Service from its ports.
    private var healthCheckPorts: [NamespacedName: Set<ServicePortName>] = [:]

    static func == (lhs: LocalEndpointFacts, rhs: LocalEndpointFacts) -> Bool {
        lhs.internalWithoutLocal == rhs.internalWithoutLocal && lhs.externalWithoutLocal == rhs.externalWithoutLocal
            && lhs.healthChecks.mapValues { [$0.port, $0.localEndpoints] }
                == rhs.healthChecks.mapValues { [$0.port, $0.localEndpoints] }
    }

    init() {}

    /// The facts of `snapshot`, from scratch.
    init(snapshot: ProxySnapshot, nodeName: String) {
        update(snapshot: snapshot, names: snapshot.servicePorts.keys, nodeName: nodeName)
    }

    /// Brings the facts to `snapshot`, the state after `delta`, when they were those of the
    /// state before it.
    mutating func update(snapshot: ProxySnapshot, delta: SyncDelta, nodeName: String) {
        var names = delta.addedServicePorts.union(delta.changedServicePorts).union(delta.endpointsChanged)
        names.formUnion(delta.removedServicePorts.keys)
        update(snapshot: snapshot, names: names, nodeName: nodeName)
    }

    private mutating func update(snapshot: ProxySnapshot, names: some Sequence<ServicePortName>, nodeName: String) {
        var services: Set<NamespacedName> = []
        for name in names {
            if let old = ports.removeValue(forKey: name) {
                if old.internalWithoutLocal { internalWithoutLocal -= 1 }
                if old.externalWithoutLocal { externalWithoutLocal -= 1 }
                if old.healthCheck != nil {
                    healthCheckPorts[name.service]?.remove(name)
                    services.insert(name.service)
                }
            }
            guard let port = snapshot.servicePorts[name], port.usesLocalEndpoints else { continue }
            let new = Self.facts(of: port, endpoints: snapshot.endpoints(for: name), nodeName: nodeName)
            if new.internalWithoutLocal { internalWithoutLocal += 1 }
            if new.externalWithoutLocal { externalWithoutLocal += 1 }
            if new.healthCheck != nil {
                healthCheckPorts[name.service, default: []].insert(name)
                services.insert(name.service)
            }
            ports[name] = new
        }
        for service in services {
            let names = healthCheckPorts[service] ?? []
            guard let first = names.first, let port = ports[first]?.healthCheck?.port else {
                healthCheckPorts[service] = nil
                healthChecks[service] = nil
                continue
            }
            let ready = names.reduce(into: Set<EndpointAddress>()) { $0.formUnion(ports[$1]?.healthCheck?.localReady ?? []) }
            healthChecks[service] = (port, ready.count)
        }
    }

    private static func facts(of port: ServicePort, endpoints: [Endpoint], nodeName: String) -> PortFacts {
        let local = EndpointSelection.localEndpoints(endpoints, nodeName: nodeName)
        var facts = PortFacts(
            internalWithoutLocal: port.internalPolicyLocal && local.isEmpty,
            externalWithoutLocal: port.externalPolicyLocal && local.isEmpty)
        if port.externalPolicyLocal && port.healthCheckNodePort != 0 {
            let ready = endpoints.filter { $0.ready && EndpointSelection.isLocal($0, nodeName: nodeName) }
            facts.healthCheck = (port.healthCheckNodePort, Set(ready.map(\.address)))
        }
        return facts
    }
}
