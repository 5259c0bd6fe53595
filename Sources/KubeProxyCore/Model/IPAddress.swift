/// An IPv4 or IPv6 address as a value, parsed without touching the network.
///
/// Parsing is lenient where upstream kube-proxy is lenient (IPv4 octets with leading zeros such as
/// `172.30.0.041` are read as decimal) and strict elsewhere; `description` always prints the
/// normalised form, so rendered rules never carry an operator's odd spelling.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// The address family.
    public var family: IPFamily {
        switch self {
        case .v4: return .ipv4
        case .v6: return .ipv6
        }
    }

    /// Parses a textual address; `nil` when it is not an IP address.
    public init?(_ text: some StringProtocol) {
        // The common case first, straight over the bytes: an IPv4 address as the API writes it
        // (every endpoint of every slice). Anything else — spaces, IPv6 — takes the path below.
        if let v4 = IPAddress.parseV4(text) {
            self = .v4(v4)
            return
        }
        let s = text.trimmingWhitespace()
        if s.utf8.contains(UInt8(ascii: ":")) {
            guard let v6 = IPAddress.parseV6(s) else { return nil }
            self = v6
        } else {
            guard let v4 = IPAddress.parseV4(s) else { return nil }
            self = .v4(v4)
        }
    }

    /// `0.0.0.0` or `::`.
    public var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a == 0
        case .v6(let h, let l): return h == 0 && l == 0
        }
    }

    /// 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        switch self {
        case .v4(let a): return a >> 24 == 127
        case .v6(let h, let l): return h == 0 && l == 1
        }
    }

    /// The address bytes in network order (4 or 16 of them).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a):
            return [UInt8(a >> 24), UInt8((a >> 16) & 0xff), UInt8((a >> 8) & 0xff), UInt8(a & 0xff)]
        case .v6(let h, let l):
            return (0..<8).map { UInt8((h >> (56 - 8 * UInt64($0))) & 0xff) }
                + (0..<8).map { UInt8((l >> (56 - 8 * UInt64($0))) & 0xff) }
        }
    }

    /// Normalised text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed).
    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\((a >> 16) & 0xff).\((a >> 8) & 0xff).\(a & 0xff)"
        case .v6(let h, let l):
            let groups: [UInt16] =
                (0..<4).map { UInt16((h >> (48 - 16 * UInt64($0))) & 0xffff) }
                + (0..<4).map { UInt16((l >> (48 - 16 * UInt64($0))) & 0xffff) }
            // Longest run of at least two zero groups, first one on ties (RFC 5952 §4.2).
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                    i = j
                } else {
                    i += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
        }
    }

    /// `ip` for IPv4, `[ip]` for IPv6: the form used in front of `:port`.
    public var bracketedDescription: String {
        family == .ipv6 ? "[\(description)]" : description
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let ah, let al), .v6(let bh, let bl)): return ah < bh || (ah == bh && al < bl)
        }
    }

    /// Dotted quad over UTF-8 bytes (this runs for every endpoint address of every slice).
    /// Leading zeros are accepted and read as decimal, as upstream's lenient parser does.
    static func parseV4<S: StringProtocol>(_ s: S) -> UInt32? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in s.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits += 1
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    static func splitOnDoubleColon(_ s: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var chars = Array(s)[...]
        while let c = chars.first {
            if c == ":" && chars.dropFirst().first == ":" {
                parts.append(current)
                current = ""
                chars = chars.dropFirst(2)
            } else {
                current.append(c)
                chars = chars.dropFirst()
            }
        }
        parts.append(current)
        return parts
    }

    static func parseV6<S: StringProtocol>(_ s: S) -> IPAddress? {
        var text = Substring(s)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone ids are not addresses
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        let halves = IPAddress.splitOnDoubleColon(String(text))
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, field) in fields.enumerated() {
                if allowV4Tail && i == fields.count - 1 && field.contains(".") {
                    guard let v4 = parseV4(field) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                    continue
                }
                guard !field.isEmpty, field.count <= 4, let g = UInt16(field, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }
        if halves.count == 2 {
            sawDoubleColon = true
            guard let head = parseGroups(halves[0], allowV4Tail: false),
                let rest = parseGroups(halves[1], allowV4Tail: true)
            else { return nil }
            groups = head
            tail = rest
            guard groups.count + tail.count <= 7 else { return nil }
        } else {
            guard let all = parseGroups(halves[0], allowV4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        if sawDoubleColon {
            groups += Array(repeating: 0, count: 8 - groups.count - tail.count) + tail
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(groups[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(groups[i]) }
        return .v6(high, low)
    }
}

/// IPv4 or IPv6; one proxier serves one family.
public enum IPFamily: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"

    public var description: String { rawValue }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}
