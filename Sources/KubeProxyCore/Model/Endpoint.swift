/// One backend of a Service port, merged from EndpointSlices (or legacy Endpoints).
///
/// Conditions follow the API defaults: `ready` and `serving` are true when unset,
/// `terminating` false when unset.
///
/// Storage: 32 bytes. The cache holds every endpoint of the cluster (100k at 10k Services of
/// 10), so the layout matters: the three conditions share one byte, the port is stored as the
/// API's 32-bit integer, and the locality fields (node, zone, hints), which most endpoints
/// either lack or share with their neighbours on the same node, live in one shared immutable
/// box (`Locality`), absent when all are empty. The inline layout was 88 bytes.
public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The backend address (the slice's `addresses[0]`).
    public var ip: IPAddress
    private var conditions: Conditions
    private var storedPort: Int32
    private var locality: Locality?

    /// `ready`, `serving`, `terminating` in one byte.
    private struct Conditions: OptionSet, Hashable, Sendable {
        let rawValue: UInt8
        static let ready = Conditions(rawValue: 1 << 0)
        static let serving = Conditions(rawValue: 1 << 1)
        static let terminating = Conditions(rawValue: 1 << 2)
    }

    /// The backend port (resolved target port). The API's ports are 32-bit; a value outside
    /// `Int32` is clamped to its bounds (still not a valid port, so still refused or dropped
    /// wherever ports are checked).
    public var port: Int {
        get { Int(storedPort) }
        set { storedPort = Int32(clamping: newValue) }
    }

    /// `conditions.ready`.
    public var ready: Bool {
        get { conditions.contains(.ready) }
        set { set(.ready, newValue) }
    }

    /// `conditions.serving`.
    public var serving: Bool {
        get { conditions.contains(.serving) }
        set { set(.serving, newValue) }
    }

    /// `conditions.terminating`.
    public var terminating: Bool {
        get { conditions.contains(.terminating) }
        set { set(.terminating, newValue) }
    }

    /// `nodeName`, for locality.
    public var nodeName: String? {
        get { locality?.nodeName }
        set { locality = Locality.make(nodeName: newValue, zone: zone, zoneHints: zoneHints, nodeHints: nodeHints) }
    }

    /// `zone`.
    public var zone: String? {
        get { locality?.zone }
        set { locality = Locality.make(nodeName: nodeName, zone: newValue, zoneHints: zoneHints, nodeHints: nodeHints) }
    }

    /// `hints.forZones[].name`.
    public var zoneHints: Set<String> {
        get { locality?.zoneHints ?? [] }
        set { locality = Locality.make(nodeName: nodeName, zone: zone, zoneHints: newValue, nodeHints: nodeHints) }
    }

    /// `hints.forNodes[].name`.
    public var nodeHints: Set<String> {
        get { locality?.nodeHints ?? [] }
        set { locality = Locality.make(nodeName: nodeName, zone: zone, zoneHints: zoneHints, nodeHints: newValue) }
    }

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
        self.init(
            ip: ip, port: port, ready: ready, serving: serving, terminating: terminating,
            locality: Locality.make(nodeName: nodeName, zone: zone, zoneHints: zoneHints, nodeHints: nodeHints))
    }

    /// Creates an endpoint around an existing locality box, so endpoints on one node share it.
    init(ip: IPAddress, port: Int, ready: Bool, serving: Bool, terminating: Bool, locality: Locality?) {
        self.ip = ip
        self.storedPort = Int32(clamping: port)
        var conditions: Conditions = []
        if ready { conditions.insert(.ready) }
        if serving { conditions.insert(.serving) }
        if terminating { conditions.insert(.terminating) }
        self.conditions = conditions
        self.locality = locality
    }

    /// The address only, without conditions: what a data plane dials.
    public var address: EndpointAddress { EndpointAddress(ip: ip, port: port) }

    /// `ip:port`, or `[ip]:port` for IPv6: upstream's endpoint key.
    public var description: String { address.description }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool { lhs.address < rhs.address }

    private mutating func set(_ condition: Conditions, _ on: Bool) {
        if on { conditions.insert(condition) } else { conditions.remove(condition) }
    }
}

extension Endpoint {
    /// The locality fields of an endpoint, immutable and shared: the endpoints of one node (and
    /// every port of a slice) point at one box instead of each holding two optional strings and
    /// two sets. Compared and hashed by value, so sharing never changes an endpoint's equality.
    final class Locality: Hashable, Sendable {
        /// `nodeName`.
        let nodeName: String?
        /// `zone`.
        let zone: String?
        /// `hints.forZones[].name`.
        let zoneHints: Set<String>
        /// `hints.forNodes[].name`.
        let nodeHints: Set<String>

        private init(nodeName: String?, zone: String?, zoneHints: Set<String>, nodeHints: Set<String>) {
            self.nodeName = nodeName
            self.zone = zone
            self.zoneHints = zoneHints
            self.nodeHints = nodeHints
        }

        /// A box for these fields, or `nil` when all are empty (no allocation then).
        static func make(nodeName: String?, zone: String?, zoneHints: Set<String>, nodeHints: Set<String>) -> Locality? {
            if nodeName == nil && zone == nil && zoneHints.isEmpty && nodeHints.isEmpty { return nil }
            return Locality(nodeName: nodeName, zone: zone, zoneHints: zoneHints, nodeHints: nodeHints)
        }

        static func == (lhs: Locality, rhs: Locality) -> Bool {
            lhs === rhs
                || (lhs.nodeName == rhs.nodeName && lhs.zone == rhs.zone && lhs.zoneHints == rhs.zoneHints
                    && lhs.nodeHints == rhs.nodeHints)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(nodeName)
            hasher.combine(zone)
            hasher.combine(zoneHints)
            hasher.combine(nodeHints)
        }
    }

    /// Shares equal `Locality` boxes while one object's endpoints are converted.
    struct LocalityInterner {
        private var boxes: [Locality: Locality] = [:]

        /// The box for these fields: the one made earlier for equal fields, else a new one.
        mutating func box(nodeName: String?, zone: String?, zoneHints: Set<String>, nodeHints: Set<String>) -> Locality? {
            guard let box = Locality.make(nodeName: nodeName, zone: zone, zoneHints: zoneHints, nodeHints: nodeHints)
            else { return nil }
            if let shared = boxes[box] { return shared }
            boxes[box] = box
            return box
        }
    }
}

/// `ip:port` of a backend, without any conditions.
///
/// Storage: 24 bytes (the port as the API's 32-bit integer); the data plane keeps several lists
/// of these per service port (its plan, each balancer's rotation).
public struct EndpointAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Backend IP.
    public var ip: IPAddress
    private var storedPort: Int32

    /// Backend port; a value outside `Int32` is clamped to its bounds (no valid port is).
    public var port: Int {
        get { Int(storedPort) }
        set { storedPort = Int32(clamping: newValue) }
    }

    /// Creates an address.
    public init(ip: IPAddress, port: Int) {
        self.ip = ip
        self.storedPort = Int32(clamping: port)
    }

    /// `ip:port`, or `[ip]:port` for IPv6.
    public var description: String { "\(ip.bracketedDescription):\(port)" }

    public static func < (lhs: EndpointAddress, rhs: EndpointAddress) -> Bool {
        (lhs.ip, lhs.port) < (rhs.ip, rhs.port)
    }
}
