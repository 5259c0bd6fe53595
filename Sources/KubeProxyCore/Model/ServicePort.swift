/// How a Service pins clients to endpoints.
public enum SessionAffinity: Hashable, Sendable {
    /// Every new connection goes to the next endpoint in turn.
    case none
    /// A client IP keeps its endpoint until it has been idle for `timeoutSeconds`.
    case clientIP(timeoutSeconds: Int)

    /// The API default for `sessionAffinityConfig.clientIP.timeoutSeconds`.
    public static let defaultClientIPTimeoutSeconds = 10800
}

/// `externalTrafficPolicy` / `internalTrafficPolicy`.
public enum TrafficPolicy: String, Hashable, Sendable {
    case cluster = "Cluster"
    case local = "Local"
}

/// One Service port as the proxy needs it: validated, typed, for one IP family.
///
/// Built from a `KubeAPI.Service` by the service filter; a value here has already passed every
/// check, so backends never re-validate.
public struct ServicePort: Hashable, Sendable {
    /// The key.
    public var name: ServicePortName
    /// The Service's cluster IP of this proxier's family.
    public var clusterIP: IPAddress
    /// The Service port number (1...65535).
    public var port: Int
    /// `nodePort`, 0 when the Service has none.
    public var nodePort: Int
    /// `spec.externalIPs` of this family, in list order.
    public var externalIPs: [IPAddress]
    /// `status.loadBalancer.ingress[].ip` of this family, without `ipMode: Proxy` ones, in list order.
    public var loadBalancerIPs: [IPAddress]
    /// `spec.loadBalancerSourceRanges` of this family.
    public var loadBalancerSourceRanges: [CIDR]
    /// Session affinity with its timeout.
    public var sessionAffinity: SessionAffinity
    /// `spec.externalTrafficPolicy` (Cluster when unset).
    public var externalTrafficPolicy: TrafficPolicy
    /// `spec.internalTrafficPolicy` (Cluster when unset).
    public var internalTrafficPolicy: TrafficPolicy
    /// `spec.healthCheckNodePort`, 0 when none.
    public var healthCheckNodePort: Int

    /// The transport protocol (part of the key).
    public var `protocol`: TransportProtocol { name.protocol }

    /// Creates a service port; everything but the key, address and port has a neutral default.
    public init(
        name: ServicePortName,
        clusterIP: IPAddress,
        port: Int,
        nodePort: Int = 0,
        externalIPs: [IPAddress] = [],
        loadBalancerIPs: [IPAddress] = [],
        loadBalancerSourceRanges: [CIDR] = [],
        sessionAffinity: SessionAffinity = .none,
        externalTrafficPolicy: TrafficPolicy = .cluster,
        internalTrafficPolicy: TrafficPolicy = .cluster,
        healthCheckNodePort: Int = 0
    ) {
        self.name = name
        self.clusterIP = clusterIP
        self.port = port
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.sessionAffinity = sessionAffinity
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.healthCheckNodePort = healthCheckNodePort
    }
}

/// An IP prefix such as `10.0.0.0/8`.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public var address: IPAddress
    /// Prefix length.
    public var prefixLength: Int

    /// Parses `a.b.c.d/n` or `v6/n`, tolerating surrounding whitespace like upstream.
    public init?(_ text: some StringProtocol) {
        let s = text.trimmingWhitespace()
        guard let slash = s.firstIndex(of: "/"), let ip = IPAddress(s[..<slash]),
            let bits = Int(s[s.index(after: slash)...])
        else { return nil }
        let maxBits = ip.family == .ipv4 ? 32 : 128
        guard (0...maxBits).contains(bits) else { return nil }
        self.prefixLength = bits
        self.address = CIDR.mask(ip, bits)
    }

    /// Whether `ip` lies in this prefix.
    public func contains(_ ip: IPAddress) -> Bool {
        ip.family == address.family && CIDR.mask(ip, prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }

    static func mask(_ ip: IPAddress, _ bits: Int) -> IPAddress {
        switch ip {
        case .v4(let a):
            return .v4(bits == 0 ? 0 : a & (UInt32.max << UInt32(32 - bits)))
        case .v6(let h, let l):
            let hm: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : UInt64.max << UInt64(64 - bits))
            let lm: UInt64 = bits <= 64 ? 0 : (bits == 128 ? .max : UInt64.max << UInt64(128 - bits))
            return .v6(h & hm, l & lm)
        }
    }
}
