/// `core/v1.ServiceStatus`: what the cloud provider reported; kube-proxy reads the load-balancer
/// ingress IPs (and their `ipMode`) from it.
///
/// This type and the others in this file are also decoded by hand (`KubeClient/Typed/Service+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct ServiceStatus: Codable, Sendable, Hashable {
    /// The provisioned load balancer, if any.
    public var loadBalancer: LoadBalancerStatus?
    /// Conditions of the Service.
    public var conditions: [Condition]?

    /// Creates a status.
    public init(loadBalancer: LoadBalancerStatus? = nil, conditions: [Condition]? = nil) {
        self.loadBalancer = loadBalancer
        self.conditions = conditions
    }
}

/// `core/v1.LoadBalancerStatus`.
public struct LoadBalancerStatus: Codable, Sendable, Hashable {
    /// Ingress points of the load balancer.
    public var ingress: [LoadBalancerIngress]?

    /// Creates a status.
    public init(ingress: [LoadBalancerIngress]? = nil) {
        self.ingress = ingress
    }
}

/// `core/v1.LoadBalancerIngress`: one load-balancer address.
public struct LoadBalancerIngress: Codable, Sendable, Hashable {
    /// IP address of the ingress point.
    public var ip: String?
    /// Host name of the ingress point (not proxied).
    public var hostname: String?
    /// `VIP` (default; kube-proxy captures the IP locally) or `Proxy` (it must not).
    public var ipMode: String?
    /// Per-port status.
    public var ports: [PortStatus]?

    /// Creates an ingress.
    public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil, ports: [PortStatus]? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.ipMode = ipMode
        self.ports = ports
    }
}

/// `core/v1.PortStatus`: status of one load-balancer port.
public struct PortStatus: Codable, Sendable, Hashable {
    /// Port number.
    public var port: Int?
    /// Port protocol.
    public var `protocol`: String?
    /// Error reason, if the port is not working.
    public var error: String?

    /// Creates a port status.
    public init(port: Int? = nil, protocol: String? = nil, error: String? = nil) {
        self.port = port
        self.protocol = `protocol`
        self.error = error
    }
}
