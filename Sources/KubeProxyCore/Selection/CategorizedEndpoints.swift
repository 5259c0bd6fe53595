/// The endpoint sets one service port uses, as chosen by `EndpointSelection.categorize`.
///
/// `nil` means "the traffic policies never use this set" — different from an empty set, which
/// means "used, but nothing is available" and turns into a REJECT (cluster) or DROP (local)
/// verdict in the renderers.
public struct CategorizedEndpoints: Hashable, Sendable {
    /// Endpoints for Cluster-policy traffic (and the ETP=Local short-circuit of pod and node
    /// traffic); `nil` when internal traffic is Local and the port is not externally accessible.
    public var cluster: [Endpoint]?
    /// Endpoints for Local-policy traffic; `nil` when neither policy is Local.
    public var local: [Endpoint]?
    /// The union of both sets, sorted: every endpoint some traffic can reach (the per-endpoint
    /// chains or listeners a backend must create).
    public var allReachable: [Endpoint]
    /// Whether any endpoint anywhere is usable (ready, or serving and terminating). When false
    /// the service port rejects traffic.
    public var hasAnyEndpoints: Bool

    /// Creates a categorisation.
    public init(cluster: [Endpoint]?, local: [Endpoint]?, allReachable: [Endpoint], hasAnyEndpoints: Bool) {
        self.cluster = cluster
        self.local = local
        self.allReachable = allReachable
        self.hasAnyEndpoints = hasAnyEndpoints
    }

    /// Whether traffic under a policy reaches an endpoint: under Local only a local one does
    /// (upstream's `hasInternalEndpoints` / `hasExternalEndpoints`; ports with endpoints where
    /// this is false are what the no-local-endpoints gauges count).
    public func hasEndpoints(policyLocal: Bool) -> Bool {
        hasAnyEndpoints && !(policyLocal && (local ?? []).isEmpty)
    }
}
