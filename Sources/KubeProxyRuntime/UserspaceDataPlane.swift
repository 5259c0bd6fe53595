import KubeProxyCore
import KubeProxyDataPlane

/// What the controller needs from a userspace data plane: make the listeners match a desired
/// state, hold port claims, report counters, and close everything at shutdown.
///
/// A protocol so controller tests can use a fake that keeps the applied state, without sockets.
public protocol UserspaceDataPlane: Sendable {
    /// Makes the listeners and balancers match `desired`; returns what changed, for the log.
    func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange]
    /// `apply(_:)` when only the entries named in `changed` can differ from the previous
    /// `desired` (`nil`: anything may), so a sync costs the change, not every listener.
    func apply(_ desired: [ServicePortName: ProxiedPort], changed: Set<ServicePortName>?) async -> [DataPlaneChange]
    /// The proxy port each service port listens on now (what portal rules point at).
    func listenerPorts() async -> [ServicePortName: Int]
    /// `listenerPorts()` for `names` only (a sync's changed ports).
    func listenerPorts(of names: Set<ServicePortName>) async -> [ServicePortName: Int]
    /// Holds exactly the `desired` ports (NodePorts, local external IPs) with idle sockets.
    func updateClaims(_ desired: Set<PortClaim>) async -> [PortClaimResult]
    /// Counters per service port, for metrics.
    func statistics() async -> [ServicePortName: ListenerStatistics]
    /// `statistics()`, without the service ports whose counters are all zero unless
    /// `includingIdle` (per-port series need every port; totals do not).
    func statistics(includingIdle: Bool) async -> [ServicePortName: ListenerStatistics]
    /// The service ports the last `apply` left unserved for lack of listener capacity, `nil`
    /// when none (the reason `/healthz` fails).
    func unservedPorts() async -> UnservedPorts?
    /// Stops accepting, lets open connections finish for up to `drainTimeout`, closes the rest.
    func shutdown(drainTimeout: Duration) async
}

extension UserspaceDataPlane {
    /// Closes everything at once.
    public func shutdown() async { await shutdown(drainTimeout: .zero) }

    /// Filters every listener's port: for data planes without a cheaper lookup.
    public func listenerPorts(of names: Set<ServicePortName>) async -> [ServicePortName: Int] {
        await listenerPorts().filter { names.contains($0.key) }
    }

    /// Filters the full report: for data planes without a cheaper way.
    public func statistics(includingIdle: Bool) async -> [ServicePortName: ListenerStatistics] {
        let all = await statistics()
        return includingIdle ? all : all.filter { $0.value != ListenerStatistics() }
    }

    /// A data plane without incremental updates compares everything.
    public func apply(_ desired: [ServicePortName: ProxiedPort], changed: Set<ServicePortName>?) async -> [DataPlaneChange] {
        await apply(desired)
    }
}

extension UserspaceProxy: UserspaceDataPlane {
    public func listenerPorts() async -> [ServicePortName: Int] {
        status().compactMapValues(\.port)
    }
}
