/// Go's `time.Duration` text form (`250ms`, `1.5s`, `1h30m`), the form every upstream duration
/// flag and config field uses, so operators can paste their values unchanged.
public enum GoDuration {
    /// Why a duration did not parse.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// The rejected text.
        public var text: String
        /// What is wrong with it.
        public var reason: String
        public var description: String { "invalid duration \"\(text)\": \(reason)" }
    }

    private static let units: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// Parses `text`; a bare `0` is allowed, as in Go. Negative durations are rejected.
    public static func parse(_ text: String) throws(ParseError) -> Duration {
        var rest = Substring(text)
        guard !rest.isEmpty else { throw ParseError(text: text, reason: "empty") }
        if rest == "0" { return .zero }
        if rest.first == "-" { throw ParseError(text: text, reason: "must not be negative") }
        if rest.first == "+" { rest.removeFirst() }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else {
                throw ParseError(text: text, reason: "expected a number at \"\(rest)\"")
            }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.0 == unitText }) else {
                throw ParseError(
                    text: text,
                    reason: unitText.isEmpty ? "missing unit (use ns, us, ms, s, m or h)" : "unknown unit \"\(unitText)\"")
            }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        let nanos = (total * 1e9).rounded()
        guard nanos < Double(Int64.max) else { throw ParseError(text: text, reason: "too large") }
        return .nanoseconds(Int64(nanos))
    }

    /// Formats like Go's `Duration.String()` (`1m30s`, `250ms`, `0s`).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attos) = duration.components
        let totalNanos = seconds * 1_000_000_000 + attos / 1_000_000_000
        if totalNanos == 0 { return "0s" }
        if totalNanos < 1_000 { return "\(totalNanos)ns" }
        if totalNanos < 1_000_000 { return fixed(totalNanos, fractionDigits: 3) + "µs" }
        if totalNanos < 1_000_000_000 { return fixed(totalNanos, fractionDigits: 6) + "ms" }
        var out = ""
        var remaining = totalNanos
        let hours = remaining / 3_600_000_000_000
        remaining -= hours * 3_600_000_000_000
        let minutes = remaining / 60_000_000_000
        remaining -= minutes * 60_000_000_000
        if hours > 0 { out += "\(hours)h" }
        if hours > 0 || minutes > 0 { out += "\(minutes)m" }
        out += fixed(remaining, fractionDigits: 9) + "s"
        return out
    }

    /// `value / 10^fractionDigits` in decimal without trailing zeros, as Go prints it
    /// (`0.000003`, `1.5`, `2`). Integer arithmetic: a `Double` printed `3e-06`, which no
    /// duration parser (ours or Go's) reads back.
    private static func fixed(_ value: Int64, fractionDigits: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<fractionDigits { scale *= 10 }
        let whole = value / scale
        var fraction = value % scale
        guard fraction != 0 else { return "\(whole)" }
        var digits = fractionDigits
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }
}
