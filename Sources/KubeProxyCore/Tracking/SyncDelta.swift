import KubeAPI

/// What one `ProxyState.apply` changed: the facts a backend needs for a partial sync and for
/// cleanup, and the problems worth logging.
///
/// Why: a full re-render is always correct, but backends want to do less (iptables partial
/// sync rewrites only changed services' chains; the userspace proxy re-creates only changed
/// listeners; UDP conntrack cleanup needs removed ports and endpoints). This value says exactly
/// what differs between the previous and the new snapshot.
public struct SyncDelta: Sendable, Hashable {
    /// Service ports that did not exist before.
    public var addedServicePorts: Set<ServicePortName> = []
    /// Service ports whose `ServicePort` value changed (address, node port, policy, …).
    public var changedServicePorts: Set<ServicePortName> = []
    /// Service ports that are gone, with their last value (for closing listeners, deleting
    /// chains, flushing UDP conntrack entries of their cluster IP).
    public var removedServicePorts: [ServicePortName: ServicePort] = [:]
    /// Service port names whose endpoint list changed in any way (added, removed, conditions).
    public var endpointsChanged: Set<ServicePortName> = []
    /// Per service port name, endpoints whose `ip:port` is no longer in the list (for UDP
    /// conntrack cleanup); a condition change alone does not count.
    public var removedEndpoints: [ServicePortName: [Endpoint]] = [:]
    /// Services refused in this apply (invalid); they keep their last good ports.
    public var serviceProblems: [NamespacedName: [StatusCause]] = [:]
    /// Endpoint sources (slice or `endpoints:<name>` keys) refused since the last apply; the
    /// cache keeps their last accepted version.
    public var endpointProblems: [NamespacedName: [StatusCause]] = [:]
    /// `last-change-trigger-time` annotation values of the endpoint changes taken.
    public var lastChangeTriggerTimes: [String] = []

    /// Creates an empty delta.
    public init() {}

    /// Whether nothing changed (problems aside): a sync may skip rendering.
    public var isEmpty: Bool {
        addedServicePorts.isEmpty && changedServicePorts.isEmpty && removedServicePorts.isEmpty
            && endpointsChanged.isEmpty
    }

    /// Every Service with a changed port or endpoint: the unit of an iptables partial sync.
    public var changedServices: Set<NamespacedName> {
        var services = Set(addedServicePorts.map(\.service))
        services.formUnion(changedServicePorts.map(\.service))
        services.formUnion(removedServicePorts.keys.map(\.service))
        services.formUnion(endpointsChanged.map(\.service))
        return services
    }
}

extension SyncDelta {
    /// Adds `later`'s changes to these, as if both had been one apply: for consumers that must
    /// see every change since they last acted (conntrack cleanup after a failed sync).
    /// Problems and trigger times are not merged; they are reported per apply.
    public mutating func absorb(_ later: SyncDelta) {
        for name in later.addedServicePorts where removedServicePorts[name] == nil {
            addedServicePorts.insert(name)
        }
        changedServicePorts.formUnion(later.changedServicePorts)
        for (name, port) in later.removedServicePorts {
            if addedServicePorts.remove(name) == nil, removedServicePorts[name] == nil { removedServicePorts[name] = port }
            changedServicePorts.remove(name)
        }
        for name in later.addedServicePorts where removedServicePorts[name] != nil {
            removedServicePorts[name] = nil
            changedServicePorts.insert(name)
        }
        endpointsChanged.formUnion(later.endpointsChanged)
        for (name, endpoints) in later.removedEndpoints { removedEndpoints[name, default: []].append(contentsOf: endpoints) }
    }
}
