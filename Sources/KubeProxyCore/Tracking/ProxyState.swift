import KubeAPI

/// The proxy's current desired state for one family, advanced only by `apply` at sync time.
///
/// Why a value type with one mutating entry point: event handlers only record into trackers;
/// the sync calls `apply` once, which takes the pending changes, converts Services, refreshes
/// endpoints of touched Services, and reports exactly what changed. Everything here is pure, so
/// the whole of "what should be programmed" is testable without a kernel.
///
/// Invariants:
/// - A Service's ports change only through its own pending change; a bad Service never
///   removes or alters other Services.
/// - A Service that becomes invalid keeps its last good ports and is reported in
///   `SyncDelta.serviceProblems`; it is not deleted. A skipped Service (headless, ExternalName,
///   other family, other proxy) has no ports.
/// - Endpoints are stored per service port name whether or not the Service exists.
public struct ProxyState: Sendable {
    /// The family this state proxies; Services are converted for it.
    public let family: IPFamily
    private var servicePorts: [ServicePortName: ServicePort] = [:]
    /// Arrays, not sets: a Service has a handful of ports, and at 10k Services a set per
    /// Service cost twice the memory of the list.
    private var portsByService: [NamespacedName: [ServicePortName]] = [:]
    private var endpoints: [ServicePortName: [Endpoint]] = [:]
    private var endpointPortsByService: [NamespacedName: [ServicePortName]] = [:]

    /// Creates an empty state. Pair it with an `EndpointsChangeTracker` of the same family.
    public init(family: IPFamily) {
        self.family = family
    }

    /// The current state as an immutable value for renderers and the data plane.
    public var snapshot: ProxySnapshot {
        ProxySnapshot(family: family, servicePorts: servicePorts, endpoints: endpoints)
    }

    /// Whether applying `current` as the newest version of Service `key` would leave this state
    /// as it is and report nothing: the state holds no ports of `key`, and `current` is absent
    /// or not proxied (skipped) by this family. A caller with nothing pending for `key` need not
    /// record such an event at all (upstream's trackers drop a change whose converted ends are
    /// equal). With both families, every single-stack Service is such an event for the other
    /// family, whose tracker otherwise held each of them until its next sync.
    ///
    /// A Service with a cluster IP of this family is never such an event (it is converted at
    /// `apply` as usual); one without is converted here, so an invalid one is still recorded and
    /// refused at `apply`.
    public func ignores(_ current: Service?, of key: NamespacedName) -> Bool {
        guard portsByService[key] == nil else { return false }
        guard let current else { return true }
        if ServiceFilter.skipReason(for: current) != nil { return true }
        if let spec = current.spec, ServiceFilter.clusterIP(of: spec, family: family) != nil { return false }
        if case .skipped = ServiceFilter.servicePorts(from: current, family: family) { return true }
        return false
    }

    /// Takes (and clears) the trackers' pending changes, applies them and returns what changed.
    public mutating func apply<Instant>(
        services: inout ServiceChangeTracker<Instant>, endpoints endpointsTracker: inout EndpointsChangeTracker<Instant>
    ) -> SyncDelta {
        var delta = SyncDelta()
        for (key, change) in services.take().sorted(by: { $0.key < $1.key }) {
            applyServiceChange(key: key, current: change.current, delta: &delta)
        }
        let changes = endpointsTracker.take()
        for service in changes.services.sorted() {
            applyEndpoints(endpointsTracker.cache.endpoints(for: service), of: service, delta: &delta)
        }
        delta.endpointProblems = changes.problems
        delta.lastChangeTriggerTimes = changes.lastChangeTriggerTimes
        return delta
    }

    private mutating func applyServiceChange(key: NamespacedName, current: Service?, delta: inout SyncDelta) {
        guard let current else {
            replacePorts(of: key, with: [], delta: &delta)
            return
        }
        switch ServiceFilter.servicePorts(from: current, family: family) {
        case .skipped:
            replacePorts(of: key, with: [], delta: &delta)
        case .ports(let ports):
            replacePorts(of: key, with: ports, delta: &delta)
        case .invalid(let causes):
            delta.serviceProblems[key] = causes
        }
    }

    private mutating func replacePorts(of service: NamespacedName, with ports: [ServicePort], delta: inout SyncDelta) {
        let newNames = ports.map(\.name)
        for name in portsByService[service] ?? [] where !newNames.contains(name) {
            if let old = servicePorts.removeValue(forKey: name) { delta.removedServicePorts[name] = old }
        }
        for port in ports {
            switch servicePorts.updateValue(port, forKey: port.name) {
            case nil: delta.addedServicePorts.insert(port.name)
            case let old? where old != port: delta.changedServicePorts.insert(port.name)
            default: break
            }
        }
        portsByService[service] = newNames.isEmpty ? nil : newNames
    }

    private mutating func applyEndpoints(
        _ current: [ServicePortName: [Endpoint]], of service: NamespacedName, delta: inout SyncDelta
    ) {
        var names = endpointPortsByService[service] ?? []
        for name in current.keys where !names.contains(name) { names.append(name) }
        for name in names {
            let old = endpoints[name] ?? []
            let new = current[name] ?? []
            guard old != new else { continue }
            delta.endpointsChanged.insert(name)
            let remaining = Set(new.map(\.address))
            let removed = old.filter { !remaining.contains($0.address) }
            if !removed.isEmpty { delta.removedEndpoints[name] = removed }
            endpoints[name] = new.isEmpty ? nil : new
        }
        endpointPortsByService[service] = current.isEmpty ? nil : Array(current.keys)
    }
}
