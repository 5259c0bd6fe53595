import KubeProxyCore
import KubeProxyDataPlane

/// What the controller needs from a userspace data plane: make the listeners match a desired
/// state, and close everything at shutdown.
///
/// A protocol so controller tests can use a fake that keeps the applied state, without sockets.
public protocol UserspaceDataPlane: Sendable {
    /// Makes the listeners and balancers match `desired`; returns what changed, for the log.
    func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange]
    /// Closes every listener.
    func shutdown() async
    /// The proxy port each service port listens on now (what portal rules point at).
    func listenerPorts() async -> [ServicePortName: Int]
}

extension UserspaceProxy: UserspaceDataPlane {
    public func listenerPorts() async -> [ServicePortName: Int] {
        status().compactMapValues(\.port)
    }
}
