import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that prints klog-style lines to stderr, so operators' log pipelines that
/// parse upstream kube-proxy (`I1127 18:00:00.123456  4242 source] message key="value"`) keep working.
public struct KlogHandler: LogHandler {
    private static let output = Mutex(())

    /// Maps klog's `-v` to a swift-log level: 0–3 info, 4–5 debug, 6+ trace.
    public static func level(forVerbosity v: Int) -> Logger.Level {
        v >= 6 ? .trace : (v >= 4 ? .debug : .info)
    }

    private let label: String
    /// Minimum level printed.
    public var logLevel: Logger.Level
    /// Metadata attached to every line of this logger.
    public var metadata: Logger.Metadata = [:]

    /// Creates a handler for `label` at `level`.
    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.format(
            level: event.level, label: label, message: "\(event.message)", metadata: merged, now: Self.timestamp())
        var bytes = Array(line.utf8)
        Self.output.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                offset += n
            }
        }
        bytes.removeAll()
    }

    /// One formatted line (with the trailing newline); metadata keys are sorted for stable output.
    ///
    /// A line can never be forged: the message and keys have their control characters escaped
    /// (`escape`) and every non-numeric value is quoted Go-`%q` style (`quote`), so a newline or
    /// terminal escape in an object name, a manifest or an API answer stays inside its own line.
    static func format(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, now: String) -> String {
        let letter: String
        switch level {
        case .trace, .debug, .info, .notice: letter = "I"
        case .warning: letter = "W"
        case .error, .critical: letter = "E"
        }
        var line = "\(letter)\(now) \(getpid()) \(escape(label))] \(escape(message))"
        for key in metadata.keys.sorted() {
            line += " \(escape(key))=\(render(metadata[key]!))"
        }
        return line + "\n"
    }

    /// A metadata value as klog prints structured values: numbers bare, everything else quoted;
    /// arrays and dictionaries recurse, so nested strings are quoted too.
    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return isNumber(s) ? s : quote(s)
        case .stringConvertible(let c): return isNumber(c.description) ? c.description : quote(c.description)
        case .array(let values): return "[" + values.map(render).joined(separator: ",") + "]"
        case .dictionary(let dict):
            return "{" + dict.keys.sorted().map { "\(escape($0))=\(render(dict[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// Numbers print bare (`endpoints=2`), like klog's structured values: ASCII digits with at
    /// most one `.`, not first, after an optional `-`. Read as bytes: this runs for every value of
    /// every line (10,000 lines at a large first sync).
    static func isNumber(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { bytes in
            let digits = bytes.first == UInt8(ascii: "-") ? UnsafeBufferPointer(rebasing: bytes.dropFirst()) : bytes
            guard let first = digits.first, first != UInt8(ascii: ".") else { return false }
            var dots = 0
            for byte in digits {
                if byte == UInt8(ascii: ".") {
                    dots += 1
                } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    return false
                }
            }
            return dots <= 1
        }
    }

    /// `s` in double quotes with Go's `%q` escaping: `"` and `\` backslashed, and every
    /// non-printable scalar escaped as in `escape`.
    static func quote(_ s: String) -> String {
        if let plain = quotePrintableASCII(s) { return plain }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: appendEscaped(scalar, to: &out)
            }
        }
        return out + "\""
    }

    /// `quote` for the common case, a value of printable ASCII only, built from its bytes;
    /// `nil` when `s` has any other byte.
    private static func quotePrintableASCII(_ s: String) -> String? {
        var s = s
        return s.withUTF8 { bytes -> String? in
            var length = bytes.count + 2
            for byte in bytes {
                guard isPrintableASCII(byte) else { return nil }
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { length += 1 }
            }
            return String(unsafeUninitializedCapacity: length) { out in
                var at = 0
                out[at] = UInt8(ascii: "\"")
                at += 1
                for byte in bytes {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                        out[at] = UInt8(ascii: "\\")
                        at += 1
                    }
                    out[at] = byte
                    at += 1
                }
                out[at] = UInt8(ascii: "\"")
                return at + 1
            }
        }
    }

    /// `s` with every non-printable scalar escaped the way Go's `%q` writes it (`\n`, `\t`,
    /// `\x1b`, `\u2028`, …); printable text, quotes and backslashes are left alone. Used for the
    /// message, which klog prints unquoted but which may interpolate object names.
    static func escape(_ s: String) -> String {
        guard !s.utf8.allSatisfy(isPrintableASCII) else { return s }
        guard s.unicodeScalars.contains(where: { !isPrintable($0) }) else { return s }
        var out = ""
        for scalar in s.unicodeScalars { appendEscaped(scalar, to: &out) }
        return out
    }

    /// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    /// Everything else (C0/C1 controls, DEL, line and paragraph separators, format characters
    /// such as bidi overrides, other spaces) could hide or rewrite text on a terminal.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return isPrintableASCII(UInt8(scalar.value)) }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// An ASCII byte `isPrintable` accepts: the space through `~`.
    private static func isPrintableASCII(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7F
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, to out: inout String) {
        if isPrintable(scalar) {
            out.unicodeScalars.append(scalar)
            return
        }
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{07}": out += "\\a"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\u{0B}": out += "\\v"
        default:
            let hex = String(scalar.value, radix: 16)
            if scalar.value < 0x80 {
                out += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
            } else if scalar.value <= 0xFFFF {
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out += "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
            }
        }
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let micros = Int32(ts.tv_nsec / 1000)
        return pad(t.tm_mon + 1, 2) + pad(t.tm_mday, 2) + " " + pad(t.tm_hour, 2) + ":" + pad(t.tm_min, 2) + ":"
            + pad(t.tm_sec, 2) + "." + pad(micros, 6)
    }
}
