/// `networking.k8s.io/v1.ServiceCIDR`: a range the API server allocates ClusterIPs from.
///
/// nftables mode drops traffic to addresses inside these ranges that belong to no Service
/// (instead of letting it leave the node), so the proxy lists and watches them.
public struct ServiceCIDR: Codable, Sendable, Hashable {
    /// `networking.k8s.io/v1`.
    public var apiVersion: String?
    /// `ServiceCIDR`.
    public var kind: String?
    /// Name (cluster-scoped); `kubernetes` is the default range.
    public var metadata: ObjectMeta
    /// The ranges.
    public var spec: ServiceCIDRSpec?
    /// Conditions (`Ready`).
    public var status: ServiceCIDRStatus?

    /// Creates a ServiceCIDR.
    public init(
        apiVersion: String? = "networking.k8s.io/v1", kind: String? = "ServiceCIDR", metadata: ObjectMeta = ObjectMeta(),
        spec: ServiceCIDRSpec? = nil, status: ServiceCIDRStatus? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `networking.k8s.io/v1.ServiceCIDRSpec`.
public struct ServiceCIDRSpec: Codable, Sendable, Hashable {
    /// At most one CIDR per IP family, e.g. `["10.96.0.0/12", "fd00:10:96::/112"]`.
    public var cidrs: [String]?

    /// Creates a spec.
    public init(cidrs: [String]? = nil) {
        self.cidrs = cidrs
    }
}

/// `networking.k8s.io/v1.ServiceCIDRStatus`.
public struct ServiceCIDRStatus: Codable, Sendable, Hashable {
    /// Conditions; `Ready` tells whether the range is in use.
    public var conditions: [Condition]?

    /// Creates a status.
    public init(conditions: [Condition]? = nil) {
        self.conditions = conditions
    }
}
