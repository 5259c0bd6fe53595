/// One backend of a Service port, merged from EndpointSlices (or legacy Endpoints).
///
/// Conditions follow the API defaults: `ready` and `serving` are true when unset,
/// `terminating` false when unset.
public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The backend address (the slice's `addresses[0]`).
    public var ip: IPAddress
    /// The backend port (resolved target port).
    public var port: Int
    /// `conditions.ready`.
    public var ready: Bool
    /// `conditions.serving`.
    public var serving: Bool
    /// `conditions.terminating`.
    public var terminating: Bool
    /// `nodeName`, for locality.
    public var nodeName: String?
    /// `zone`.
    public var zone: String?
    /// `hints.forZones[].name`.
    public var zoneHints: Set<String>
    /// `hints.forNodes[].name`.
    public var nodeHints: Set<String>

    /// Creates an endpoint; conditions default to a ready, serving backend.
    public init(
        ip: IPAddress,
        port: Int,
        ready: Bool = true,
        serving: Bool = true,
        terminating: Bool = false,
        nodeName: String? = nil,
        zone: String? = nil,
        zoneHints: Set<String> = [],
        nodeHints: Set<String> = []
    ) {
        self.ip = ip
        self.port = port
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.nodeName = nodeName
        self.zone = zone
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
    }

    /// The address only, without conditions: what a data plane dials.
    public var address: EndpointAddress { EndpointAddress(ip: ip, port: port) }

    /// `ip:port`, or `[ip]:port` for IPv6: upstream's endpoint key.
    public var description: String { address.description }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool { lhs.address < rhs.address }
}

/// `ip:port` of a backend, without any conditions.
public struct EndpointAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Backend IP.
    public var ip: IPAddress
    /// Backend port.
    public var port: Int

    /// Creates an address.
    public init(ip: IPAddress, port: Int) {
        self.ip = ip
        self.port = port
    }

    /// `ip:port`, or `[ip]:port` for IPv6.
    public var description: String { "\(ip.bracketedDescription):\(port)" }

    public static func < (lhs: EndpointAddress, rhs: EndpointAddress) -> Bool {
        (lhs.ip, lhs.port) < (rhs.ip, rhs.port)
    }
}
