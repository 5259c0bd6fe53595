import KubeProxyCore

/// The desired state of one proxied service port, as the sync loop hands it to `UserspaceProxy`.
///
/// Only what the data plane needs: the key (its protocol decides the kind of listener), the
/// affinity configuration and the already selected (ready) endpoints. Cluster IPs, node ports and
/// the like belong to the rules that steer traffic to the listener, not to the listener itself.
public struct ProxiedPort: Hashable, Sendable {
    /// The key, including the protocol; the listener lives as long as the key is desired.
    public var name: ServicePortName
    /// Session affinity with its timeout, applied together with the endpoints.
    public var sessionAffinity: SessionAffinity
    /// The endpoints to balance over, in any order (the balancer shuffles a changed set).
    public var endpoints: [EndpointAddress]

    /// Creates a desired port.
    public init(name: ServicePortName, sessionAffinity: SessionAffinity = .none, endpoints: [EndpointAddress]) {
        self.name = name
        self.sessionAffinity = sessionAffinity
        self.endpoints = endpoints
    }
}
