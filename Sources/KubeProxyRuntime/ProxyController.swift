import KubeProxyCore
import KubeProxyHost
import Logging

/// The userspace mode's sync loop on the real clock: the name the builder and tests used
/// before the loop became mode-agnostic, kept so userspace call sites read as before.
public typealias ProxyController = SyncLoop<UserspaceBackend, ContinuousClock>

extension SyncLoop where Backend == UserspaceBackend, C == ContinuousClock {
    /// Creates a userspace loop for `family` on node `nodeName`: a `UserspaceBackend` over
    /// `dataPlane` (with `portals`, `conntrack` and `preferredPorts` as that backend takes them)
    /// on the continuous clock.
    public init(
        nodeName: String, family: IPFamily, dataPlane: any UserspaceDataPlane, observers: ProxyObservers = ProxyObservers(),
        portals: PortalManager? = nil, conntrack: (any ConntrackExecutor)? = nil, preferredPorts: [String: Int] = [:],
        localAddresses: @escaping @Sendable () -> Set<IPAddress> = { (try? LocalAddresses.current()) ?? [] },
        logger: Logger
    ) {
        let backend = UserspaceBackend(
            nodeName: nodeName, dataPlane: dataPlane, portals: portals, conntrack: conntrack, preferredPorts: preferredPorts,
            localAddresses: localAddresses, logger: logger)
        self.init(
            nodeName: nodeName, family: family, backend: backend, clock: ContinuousClock(), observers: observers, logger: logger)
    }
}
