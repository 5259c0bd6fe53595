/// An inclusive range of TCP/UDP ports, as given to `--proxy-port-range` (config field `portRange`).
///
/// The userspace proxy draws the listening port of every service port from this range so that
/// operators can keep proxy ports away from other host-port users (firewalls, schedulers that
/// account for host ports). A value of this type is always a usable range: `first` is at least 1,
/// `last` at most 65535 and `first <= last`.
///
/// "Let the kernel pick an ephemeral port" is *not* a range: `parse(_:)` returns `nil` for it, so
/// a `PortRange?` is the complete configuration (`nil` = kernel picks, the upstream default).
public struct PortRange: Hashable, Sendable, CustomStringConvertible {
    /// The lowest port of the range (>= 1).
    public let first: Int
    /// The highest port of the range (<= 65535, >= `first`).
    public let last: Int

    /// Creates a range, checking the bounds so that no invalid range can exist.
    ///
    /// - Throws: `PortRangeError` when `first` is below 1, either end is above 65535, or
    ///   `last < first`.
    public init(first: Int, last: Int) throws(PortRangeError) {
        let text = "\(first)-\(last)"
        guard first <= PortRange.maximumPort, last <= PortRange.maximumPort else {
            throw PortRangeError(value: text, reason: .portTooLarge(max(first, last)))
        }
        guard last >= first else {
            throw PortRangeError(value: text, reason: .endBeforeStart(start: first, end: last))
        }
        guard first >= 1 else {
            throw PortRangeError(value: text, reason: .startsAtZero)
        }
        self.first = first
        self.last = last
    }

    /// The number of ports in the range.
    public var count: Int { last - first + 1 }

    /// Whether `port` lies inside the range.
    public func contains(_ port: Int) -> Bool { (first...last).contains(port) }

    /// `first-last`, the canonical flag spelling (parses back to the same value).
    public var description: String { "\(first)-\(last)" }

    /// The highest valid port number.
    public static let maximumPort = 65535

    /// Parses upstream's `--proxy-port-range` syntax.
    ///
    /// Accepted forms (surrounding whitespace ignored, as upstream does):
    /// - `begin-end`: inclusive range, e.g. `30000-30100`;
    /// - `port`: a single port, e.g. `30000`;
    /// - `begin+offset`: `begin` up to `begin+offset` inclusive, e.g. `30000+100`.
    ///
    /// Returns `nil` ("the kernel picks an ephemeral port") for the empty string and for any range
    /// whose first port is 0 (`"0"`, `"0-0"`, and — like upstream — `"0-100"`), because upstream
    /// selects its random allocator whenever the base port is 0.
    ///
    /// - Throws: `PortRangeError` naming the value and the problem: a part that is not a
    ///   non-negative decimal number, a port above 65535, or an end before the start.
    public static func parse(_ text: some StringProtocol) throws(PortRangeError) -> PortRange? {
        let value = String(text.trimmingWhitespace())
        if value.isEmpty { return nil }
        let (low, high) = try bounds(of: value)
        guard low <= maximumPort, high <= maximumPort else {
            throw PortRangeError(value: value, reason: .portTooLarge(max(low, high)))
        }
        guard high >= low else {
            throw PortRangeError(value: value, reason: .endBeforeStart(start: low, end: high))
        }
        if low == 0 { return nil }
        do {
            return try PortRange(first: low, last: high)
        } catch {
            throw PortRangeError(value: value, reason: error.reason)
        }
    }

    /// Splits `value` into its numeric bounds according to the notation it uses.
    private static func bounds(of value: String) throws(PortRangeError) -> (Int, Int) {
        let hyphen = value.firstIndex(of: "-")
        let plus = value.firstIndex(of: "+")
        switch (hyphen, plus) {
        case (nil, nil):
            let port = try number(value, in: value)
            return (port, port)
        case (let separator?, nil):
            let low = try number(value[..<separator], in: value)
            let high = try number(value[value.index(after: separator)...], in: value)
            return (low, high)
        case (nil, let separator?):
            let low = try number(value[..<separator], in: value)
            let offset = try number(value[value.index(after: separator)...], in: value)
            // Saturate so that a huge offset reports "above 65535" instead of overflowing.
            let (sum, overflow) = low.addingReportingOverflow(offset)
            return (low, overflow ? Int.max : sum)
        case (_?, _?):
            throw PortRangeError(value: value, reason: .mixedNotation)
        }
    }

    /// Parses one decimal part; signs, blanks and non-digits are rejected.
    private static func number(_ part: some StringProtocol, in value: String) throws(PortRangeError) -> Int {
        guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw PortRangeError(value: value, reason: .notANumber(String(part)))
        }
        // A digit string too long for Int is certainly above 65535.
        guard let number = Int(part) else {
            throw PortRangeError(value: value, reason: .portTooLarge(Int.max))
        }
        return number
    }
}

/// Why a `--proxy-port-range` value was rejected; the description names the value and the
/// problem, so it can be shown to an operator as is.
public struct PortRangeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The problem found.
    public enum Reason: Hashable, Sendable {
        /// A part of the value is not a non-negative decimal number (the offending part).
        case notANumber(String)
        /// A port is above 65535 (`Int.max` when the number did not even fit an `Int`).
        case portTooLarge(Int)
        /// The end port is below the start port.
        case endBeforeStart(start: Int, end: Int)
        /// Both `-` and `+` appear in the value.
        case mixedNotation
        /// A range built with `PortRange(first:last:)` starts at port 0; use `nil` for "kernel picks".
        case startsAtZero
    }

    /// The value as given (trimmed).
    public var value: String
    /// What is wrong with it.
    public var reason: Reason

    /// Creates an error for `value`.
    public init(value: String, reason: Reason) {
        self.value = value
        self.reason = reason
    }

    /// `invalid port range "<value>": <what is wrong>`.
    public var description: String {
        let problem: String
        switch reason {
        case .notANumber(let part):
            problem = "\"\(part)\" is not a port number"
        case .portTooLarge(let port):
            problem =
                port == Int.max
                ? "a port is greater than \(PortRange.maximumPort)"
                : "port \(port) is greater than \(PortRange.maximumPort)"
        case .endBeforeStart(let start, let end):
            problem = "end port \(end) is less than start port \(start)"
        case .mixedNotation:
            problem = "use either begin-end or begin+offset, not both"
        case .startsAtZero:
            problem = "a range must start at port 1 or above (no range means the kernel picks)"
        }
        return "invalid port range \"\(value)\": \(problem)"
    }
}
