import KubeProxyCore

/// The desired state of one proxied service port, as the sync loop hands it to `UserspaceProxy`.
///
/// Only what the data plane needs: the key (its protocol decides the kind of listener), the
/// affinity configuration, the already selected (ready) endpoints and, for a restart without an
/// outage, the port a previous run listened on. Cluster IPs, node ports and the like belong to
/// the rules that steer traffic to the listener, not to the listener itself.
public struct ProxiedPort: Hashable, Sendable {
    /// The key, including the protocol; the listener lives as long as the key is desired.
    public var name: ServicePortName
    /// Session affinity with its timeout, applied together with the endpoints.
    public var sessionAffinity: SessionAffinity
    /// The endpoints to balance over, in any order (the balancer shuffles a changed set).
    public var endpoints: [EndpointAddress]
    /// The proxy port to try first when the listener is opened, typically the one the kernel's
    /// rules of a previous run still redirect to, so those rules (and UDP conntrack entries) stay
    /// valid across a restart. Honoured inside `--proxy-port-range` when one is configured, any
    /// port otherwise; when it cannot be bound the allocator picks as usual. Ignored once the
    /// listener is open (changing it never moves a listener).
    public var preferredPort: Int?

    /// Creates a desired port.
    public init(
        name: ServicePortName,
        sessionAffinity: SessionAffinity = .none,
        endpoints: [EndpointAddress],
        preferredPort: Int? = nil
    ) {
        self.name = name
        self.sessionAffinity = sessionAffinity
        self.endpoints = endpoints
        self.preferredPort = preferredPort
    }
}
