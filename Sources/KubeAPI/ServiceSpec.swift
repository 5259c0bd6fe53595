/// `core/v1.ServiceSpec`. Enum-like fields (`type`, `sessionAffinity`, the traffic policies,
/// `ipFamilyPolicy`, …) are strings so unknown values decode; Core maps them to its model.
///
/// This type and the others in this file are also decoded by hand (`KubeClient/Typed/Service+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct ServiceSpec: Codable, Sendable, Hashable {
    /// The ports the Service exposes.
    public var ports: [ServicePortSpec]?
    /// Pod label selector (used by controllers, not by kube-proxy; kept to round-trip).
    public var selector: [String: String]?
    /// Primary cluster IP, `None` for headless Services.
    public var clusterIP: String?
    /// Cluster IPs, one per family (dual-stack); the first equals `clusterIP`.
    public var clusterIPs: [String]?
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    public var type: String?
    /// Extra IPs on which the Service is reachable.
    public var externalIPs: [String]?
    /// `None` or `ClientIP`.
    public var sessionAffinity: String?
    /// Deprecated requested load-balancer IP.
    public var loadBalancerIP: String?
    /// CIDRs allowed to reach the load balancer.
    public var loadBalancerSourceRanges: [String]?
    /// DNS name for `ExternalName` Services (not proxied).
    public var externalName: String?
    /// `Cluster` or `Local`.
    public var externalTrafficPolicy: String?
    /// Node port for the health check of `Local` external traffic.
    public var healthCheckNodePort: Int?
    /// Whether not-ready endpoints are published.
    public var publishNotReadyAddresses: Bool?
    /// Session affinity parameters (ClientIP timeout).
    public var sessionAffinityConfig: SessionAffinityConfig?
    /// `IPv4` / `IPv6`, in order of preference.
    public var ipFamilies: [String]?
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`.
    public var ipFamilyPolicy: String?
    /// Whether node ports are allocated for `LoadBalancer` Services.
    public var allocateLoadBalancerNodePorts: Bool?
    /// The load-balancer implementation class.
    public var loadBalancerClass: String?
    /// `Cluster` or `Local`.
    public var internalTrafficPolicy: String?
    /// Traffic distribution preference, e.g. `PreferClose`.
    public var trafficDistribution: String?

    /// Creates a spec; every field defaults to absent.
    public init(
        ports: [ServicePortSpec]? = nil, selector: [String: String]? = nil, clusterIP: String? = nil,
        clusterIPs: [String]? = nil, type: String? = nil, externalIPs: [String]? = nil,
        sessionAffinity: String? = nil, loadBalancerIP: String? = nil, loadBalancerSourceRanges: [String]? = nil,
        externalName: String? = nil, externalTrafficPolicy: String? = nil, healthCheckNodePort: Int? = nil,
        publishNotReadyAddresses: Bool? = nil, sessionAffinityConfig: SessionAffinityConfig? = nil,
        ipFamilies: [String]? = nil, ipFamilyPolicy: String? = nil, allocateLoadBalancerNodePorts: Bool? = nil,
        loadBalancerClass: String? = nil, internalTrafficPolicy: String? = nil, trafficDistribution: String? = nil
    ) {
        self.ports = ports
        self.selector = selector
        self.clusterIP = clusterIP
        self.clusterIPs = clusterIPs
        self.type = type
        self.externalIPs = externalIPs
        self.sessionAffinity = sessionAffinity
        self.loadBalancerIP = loadBalancerIP
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.externalName = externalName
        self.externalTrafficPolicy = externalTrafficPolicy
        self.healthCheckNodePort = healthCheckNodePort
        self.publishNotReadyAddresses = publishNotReadyAddresses
        self.sessionAffinityConfig = sessionAffinityConfig
        self.ipFamilies = ipFamilies
        self.ipFamilyPolicy = ipFamilyPolicy
        self.allocateLoadBalancerNodePorts = allocateLoadBalancerNodePorts
        self.loadBalancerClass = loadBalancerClass
        self.internalTrafficPolicy = internalTrafficPolicy
        self.trafficDistribution = trafficDistribution
    }
}

/// `core/v1.SessionAffinityConfig`: parameters of session affinity.
public struct SessionAffinityConfig: Codable, Sendable, Hashable {
    /// ClientIP affinity parameters.
    public var clientIP: ClientIPConfig?

    /// Creates a config.
    public init(clientIP: ClientIPConfig? = nil) {
        self.clientIP = clientIP
    }
}

/// `core/v1.ClientIPConfig`: how long a client sticks to one endpoint.
public struct ClientIPConfig: Codable, Sendable, Hashable {
    /// Stickiness timeout in seconds (API default 10800).
    public var timeoutSeconds: Int?

    /// Creates a config.
    public init(timeoutSeconds: Int? = nil) {
        self.timeoutSeconds = timeoutSeconds
    }
}
