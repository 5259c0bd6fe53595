/// A Service's `namespace/name`: the key of change tracking.
public struct NamespacedName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The object's namespace (`default` when a manifest leaves it out).
    public var namespace: String
    /// The object's name.
    public var name: String

    /// Creates a key.
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// `namespace/name`.
    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: NamespacedName, rhs: NamespacedName) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

/// L4 protocol of a Service port.
public enum TransportProtocol: String, Hashable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case tcp = "TCP"
    case udp = "UDP"
    case sctp = "SCTP"

    /// Lower-case name as used by iptables (`-p tcp`).
    public var lowercased: String { rawValue.lowercased() }
    public var description: String { rawValue }

    public static func < (lhs: TransportProtocol, rhs: TransportProtocol) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One proxied port of one Service: everything (listener, rules, balancer state) is keyed by it,
/// never by port number.
///
/// Its text form `namespace/name:portName` (or `namespace/name` for an unnamed port) is the
/// comment upstream puts on every rule, so operators' greps keep working.
public struct ServicePortName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The owning Service.
    public var service: NamespacedName
    /// The port's `name` (empty for the single unnamed port).
    public var port: String
    /// The port's protocol; part of the key since a name may not repeat but a number may.
    public var `protocol`: TransportProtocol

    /// Creates a key.
    public init(service: NamespacedName, port: String, protocol: TransportProtocol) {
        self.service = service
        self.port = port
        self.protocol = `protocol`
    }

    /// Convenience for tests and logs.
    public init(namespace: String, name: String, port: String, protocol: TransportProtocol = .tcp) {
        self.init(service: NamespacedName(namespace: namespace, name: name), port: port, protocol: `protocol`)
    }

    /// `namespace/name:port`, or `namespace/name` for an unnamed port.
    public var description: String {
        port.isEmpty ? service.description : "\(service.description):\(port)"
    }

    public static func < (lhs: ServicePortName, rhs: ServicePortName) -> Bool {
        (lhs.service, lhs.port, lhs.protocol) < (rhs.service, rhs.port, rhs.protocol)
    }
}
