import KubeProxyCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many service-port listeners the data plane may hold open, and what limits that number.
///
/// Policy (README "Exhaustion"): listeners may use at most three quarters of the descriptor
/// budget's ceiling (`DescriptorBudget.ceiling`, itself the limit less the reserve), so a quarter
/// stays for relayed connections and UDP sessions; and no more listeners than there are ports:
/// the `--proxy-port-range` (shared by TCP and UDP), or, when the kernel picks, its ephemeral
/// range `net.ipv4.ip_local_port_range` (per protocol, as TCP and UDP ports are separate). A
/// service port beyond the capacity is not opened at all, so no `EMFILE` storm can starve the
/// health, metrics and API sockets; it is opened once capacity frees up.
///
/// Pure values: the proxy computes it once from the budget and the ranges, tests build it freely.
public struct ListenerCapacity: Hashable, Sendable {
    /// The descriptor limit the budget was made for.
    public let descriptorLimit: Int
    /// Descriptors left to the rest of the process.
    public let reserve: Int
    /// Descriptors of the data plane's ceiling kept for relayed connections and UDP sessions.
    public let connectionShare: Int
    /// The most listeners the descriptors allow.
    public let descriptorListeners: Int
    /// The proxy port range, `nil` when the kernel picks ports.
    public let portRange: PortRange?
    /// The kernel's ephemeral port range (`first...last`) when the kernel picks ports and the
    /// range could be read; `nil` otherwise.
    public let ephemeralPorts: ClosedRange<Int>?

    /// Computes the capacity for a descriptor `limit`, its `reserve`, and the port ranges.
    public init(descriptorLimit limit: Int, reserve: Int, portRange: PortRange?, ephemeralPorts: ClosedRange<Int>?) {
        self.descriptorLimit = max(0, limit)
        self.reserve = max(0, reserve)
        let ceiling = max(0, self.descriptorLimit - self.reserve)
        self.connectionShare = (ceiling + 3) / 4
        self.descriptorListeners = ceiling - connectionShare
        self.portRange = portRange
        self.ephemeralPorts = portRange == nil ? ephemeralPorts : nil
    }

    /// The capacity for `budget`'s limit and reserve.
    public init(budget: DescriptorBudget, portRange: PortRange?, ephemeralPorts: ClosedRange<Int>?) {
        self.init(
            descriptorLimit: budget.limit, reserve: budget.reserve, portRange: portRange,
            ephemeralPorts: ephemeralPorts)
    }

    /// The port bound for logs: "30000-30099 (100)", "ephemeral 32768-60999 (28232 per
    /// protocol)" or "unbounded" (no range and the ephemeral range unreadable).
    public var portsDescription: String {
        if let portRange { return "\(portRange) (\(portRange.count))" }
        if let ephemeralPorts {
            return "ephemeral \(ephemeralPorts.lowerBound)-\(ephemeralPorts.upperBound) (\(ephemeralPorts.count) per protocol)"
        }
        return "unbounded"
    }

    /// Why a listener cannot be admitted; its `description` is the reason logged and shown.
    public enum Shortage: Hashable, Sendable, CustomStringConvertible {
        /// The descriptor share of listeners is used up.
        case descriptors(limit: Int, reserve: Int, connectionShare: Int, listeners: Int)
        /// Every port of the proxy port range holds a listener.
        case portRange(PortRange)
        /// Every port of the kernel's ephemeral range holds a listener of that protocol.
        case ephemeralPorts(ClosedRange<Int>)

        /// A sentence fragment with the numbers, e.g. "descriptor limit 400 (reserve 192, 52
        /// kept for connections) allows 156 listeners".
        public var description: String {
            switch self {
            case .descriptors(let limit, let reserve, let share, let listeners):
                return "descriptor limit \(limit) (reserve \(reserve), \(share) kept for connections) "
                    + "allows \(listeners) listeners"
            case .portRange(let range):
                return "proxy port range \(range) is exhausted (\(range.count) ports)"
            case .ephemeralPorts(let range):
                return "kernel ephemeral port range \(range.lowerBound)-\(range.upperBound) is exhausted "
                    + "(\(range.count) ports)"
            }
        }
    }

    /// Whether one more listener fits beside `total` open listeners, `sameProtocol`
    /// of which use the same protocol; the shortage that refuses it otherwise.
    public func admit(total: Int, sameProtocol: Int) -> Shortage? {
        if total >= descriptorListeners {
            return .descriptors(
                limit: descriptorLimit, reserve: reserve, connectionShare: connectionShare,
                listeners: descriptorListeners)
        }
        if let portRange, total >= portRange.count { return .portRange(portRange) }
        if let ephemeralPorts, sameProtocol >= ephemeralPorts.count { return .ephemeralPorts(ephemeralPorts) }
        return nil
    }

    /// The kernel's ephemeral port range from `contents` of `/proc/sys/net/ipv4/ip_local_port_range`
    /// ("32768\t60999"); `nil` when malformed.
    public static func parseEphemeralRange(_ contents: String) -> ClosedRange<Int>? {
        let fields = contents.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard fields.count == 2, fields[0] >= 1, fields[0] <= fields[1], fields[1] <= 65535 else { return nil }
        return fields[0]...fields[1]
    }

    /// This host's ephemeral port range, `nil` when it cannot be read.
    public static func hostEphemeralRange(path: String = "/proc/sys/net/ipv4/ip_local_port_range") -> ClosedRange<Int>? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return parseEphemeralRange(text)
    }
}

/// The service ports the data plane could not serve for lack of capacity, and why; reported in
/// one warning whenever the set changes, and as the reason `/healthz` fails.
public struct UnservedPorts: Hashable, Sendable, CustomStringConvertible {
    /// The unserved service ports, sorted.
    public var names: [ServicePortName]
    /// The shortage of the first unserved port (the binding one).
    public var reason: String

    /// Creates a report.
    public init(names: [ServicePortName], reason: String) {
        self.names = names
        self.reason = reason
    }

    /// How many names a summary shows before "and N more".
    public static let shownNames = 20

    /// "3 service ports not served (descriptor limit …): a/b:http, … and 1 more".
    public var description: String {
        let shown = names.prefix(Self.shownNames).map { "\($0)" }.joined(separator: ", ")
        let more = names.count > Self.shownNames ? " and \(names.count - Self.shownNames) more" : ""
        let noun = names.count == 1 ? "service port" : "service ports"
        return "\(names.count) \(noun) not served (\(reason)): \(shown)\(more)"
    }
}
