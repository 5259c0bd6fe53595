import KubeProxyCore

/// Keeps the userspace data plane's desired state and updates it from each sync's delta.
///
/// Why incremental: with 10k services, recomputing every port's endpoint selection on each
/// change cost ~20 ms of a single-change sync; only the ports a delta names can differ, so only
/// those are recomputed (the result is identical to a full `plan(for:)`, which tests check).
public struct UserspacePlanner: Sendable {
    /// Node facts for endpoint selection.
    public let topology: NodeTopology
    /// The current plan: every service port with its cluster-policy endpoints.
    public private(set) var plan: [ServicePortName: ProxiedPort] = [:]
    /// Proxy ports a previous run left in the kernel's rules, by service port comment text
    /// (`ns/name:port`); offered to the data plane so restarted listeners keep their ports.
    public var preferredPorts: [String: Int] = [:]

    /// Creates an empty planner.
    public init(topology: NodeTopology) {
        self.topology = topology
    }

    /// Applies one sync's delta (the snapshot is the state after it) and returns the new plan.
    public mutating func update(snapshot: ProxySnapshot, delta: SyncDelta) -> [ServicePortName: ProxiedPort] {
        for name in delta.removedServicePorts.keys { plan[name] = nil }
        for name in delta.addedServicePorts.union(delta.changedServicePorts).union(delta.endpointsChanged) {
            plan[name] = entry(name, in: snapshot)
        }
        return plan
    }

    /// The plan entries `update(snapshot:delta:)` may have changed for `delta`: every other
    /// entry is the previous plan's.
    public static func touched(by delta: SyncDelta) -> Set<ServicePortName> {
        delta.addedServicePorts.union(delta.changedServicePorts).union(delta.endpointsChanged)
            .union(delta.removedServicePorts.keys)
    }

    /// The whole plan computed from scratch (the reference the incremental path must equal).
    public func plan(for snapshot: ProxySnapshot) -> [ServicePortName: ProxiedPort] {
        var plan: [ServicePortName: ProxiedPort] = [:]
        plan.reserveCapacity(snapshot.servicePorts.count)
        for name in snapshot.servicePorts.keys { plan[name] = entry(name, in: snapshot) }
        return plan
    }

    /// One service port's entry: its ready endpoints, else serving-and-terminating ones, as
    /// upstream's userspace proxier used; nil when the snapshot has no such port.
    func entry(_ name: ServicePortName, in snapshot: ProxySnapshot) -> ProxiedPort? {
        guard let port = snapshot.servicePorts[name] else { return nil }
        let selected = EndpointSelection.clusterEndpoints(snapshot.endpoints(for: name), topology: topology)
        return ProxiedPort(
            name: name, sessionAffinity: port.sessionAffinity, endpoints: selected.map(\.address),
            preferredPort: preferredPorts[name.description])
    }
}
