/// Splits an iptables line into arguments and quotes arguments back, the way
/// `iptables-restore` reads them and `iptables-save` writes them.
///
/// Why a tokenizer of our own: comments contain spaces (`"handle ClusterIPs; NOTE: …"`), and
/// `iptables-save` always double-quotes `--comment` values, escaping `"` and `\` with a
/// backslash. Splitting on spaces would break every parent jump.
public enum IPTablesTokenizer {
    /// Splits `line` into arguments; `nil` when a double quote is left open.
    ///
    /// Outside quotes, whitespace separates arguments. Inside double quotes whitespace is kept
    /// and a backslash escapes the next character. Adjacent quoted and unquoted pieces join into
    /// one argument (`a"b c"` is `ab c`), as in iptables-restore.
    public static func split(_ line: some StringProtocol) -> [String]? {
        // Unicode scalars, not Characters: a combining mark after a quote or a space would
        // otherwise fuse with it into one Character and hide it, unlike iptables-restore, which
        // reads bytes (found by fuzzing).
        if line.utf8.allSatisfy({ $0 < 0x80 }) { return splitASCII(line.utf8) }
        var arguments: [String] = []
        var current = String.UnicodeScalarView()
        var inArgument = false
        var inQuotes = false
        var escaped = false
        for scalar in line.unicodeScalars {
            if inQuotes {
                if escaped {
                    current.append(scalar)
                    escaped = false
                } else if scalar == "\\" {
                    escaped = true
                } else if scalar == "\"" {
                    inQuotes = false
                } else {
                    current.append(scalar)
                }
            } else if scalar == "\"" {
                inQuotes = true
                inArgument = true
            } else if scalar.properties.isWhitespace {
                if inArgument { arguments.append(String(current)) }
                current = String.UnicodeScalarView()
                inArgument = false
            } else {
                current.append(scalar)
                inArgument = true
            }
        }
        if inQuotes { return nil }
        if inArgument { arguments.append(String(current)) }
        return arguments
    }

    /// `split` for ASCII text, over bytes: the same rules (ASCII whitespace is tab, line feed,
    /// vertical tab, form feed, carriage return and space), without building each argument
    /// scalar by scalar; an iptables-save at 10k Services is 420,000 such lines.
    static func splitASCII(_ bytes: some Collection<UInt8>) -> [String]? {
        var arguments: [String] = []
        var current: [UInt8] = []
        var scanner = ASCIIArgumentScanner()
        for byte in bytes {
            scanner.feed(
                byte, start: {}, append: { current.append($0) },
                end: {
                    arguments.append(String(decoding: current, as: UTF8.self))
                    current.removeAll(keepingCapacity: true)
                })
        }
        guard scanner.finish(end: { arguments.append(String(decoding: current, as: UTF8.self)) }) else { return nil }
        return arguments
    }

    /// Joins arguments into one line, quoting where iptables-restore needs it.
    ///
    /// An argument is double-quoted when it is empty, contains whitespace, a quote, a backslash
    /// or `#`, or when it is the value of `--comment` (iptables-save always quotes comments, so
    /// our text and the kernel's look alike to an operator diffing them).
    public static func join(_ arguments: [String]) -> String {
        var out: [String] = []
        out.reserveCapacity(arguments.count)
        var previous: String?
        for argument in arguments {
            out.append(quoteIfNeeded(argument, force: previous == "--comment"))
            previous = argument
        }
        return out.joined(separator: " ")
    }

    /// Appends `arguments` to `out`, each preceded by a space and quoted as `join` quotes it,
    /// without building an intermediate line (a full restore has 400k of them).
    public static func appendArguments(_ arguments: [String], to out: inout String) {
        var previous: String?
        for argument in arguments {
            out.append(" ")
            out.append(quoteIfNeeded(argument, force: previous == "--comment"))
            previous = argument
        }
    }

    /// `appendArguments` for a rule's arguments, read from its packed form (no array built).
    public static func appendArguments(of rule: IPTablesRule, to out: inout String) {
        var forceNext = false
        rule.forEachArgument { argument in
            out.append(" ")
            if !forceNext, !argument.isEmpty, argument.utf8.allSatisfy(isPlainASCII) {
                out.append(contentsOf: argument)
            } else {
                out.append(quoteIfNeeded(String(argument), force: forceNext))
            }
            forceNext = argument == "--comment"
        }
    }

    /// Printable ASCII other than the space and the characters that need quoting.
    private static func isPlainASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "#")
            && byte != UInt8(ascii: "'")
    }

    /// Quotes one argument when `force` is set or it could not be read back unquoted.
    public static func quoteIfNeeded(_ argument: String, force: Bool = false) -> String {
        // Plain ASCII words (nearly every argument of a 400k-line restore) are answered from
        // their bytes, without the Unicode property lookup below.
        if !force, !argument.isEmpty, argument.utf8.allSatisfy(isPlainASCII) { return argument }
        let needs =
            force || argument.isEmpty
            || argument.unicodeScalars.contains(where: {
                $0.properties.isWhitespace || $0 == "\"" || $0 == "\\" || $0 == "#" || $0 == "'"
            })
        guard needs else { return argument }
        var quoted = String.UnicodeScalarView()
        quoted.append("\"")
        for scalar in argument.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { quoted.append("\\") }
            quoted.append(scalar)
        }
        quoted.append("\"")
        return String(quoted)
    }
}

/// `IPTablesTokenizer.split`'s rules over ASCII bytes, one byte at a time: outside quotes ASCII
/// whitespace (tab, line feed, vertical tab, form feed, carriage return, space) separates
/// arguments; inside double quotes a backslash escapes the next byte; adjacent quoted and
/// unquoted pieces join into one argument.
///
/// One state machine for both byte-level readers — `splitASCII` (arguments as strings) and the
/// `iptables-save` parser's fast path (arguments straight into a packed rule) — so they cannot
/// drift apart on quoting.
struct ASCIIArgumentScanner {
    private var inArgument = false
    private var inQuotes = false
    private var escaped = false

    /// Reads `byte`: `start` when it opens an argument, then `append` with each byte that belongs
    /// to the argument, `end` when whitespace closes one.
    @inline(__always)
    mutating func feed(_ byte: UInt8, start: () -> Void, append: (UInt8) -> Void, end: () -> Void) {
        if inQuotes {
            if escaped {
                append(byte)
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inQuotes = false
            } else {
                append(byte)
            }
            return
        }
        if byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
            if inArgument {
                end()
                inArgument = false
            }
            return
        }
        if !inArgument {
            start()
            inArgument = true
        }
        if byte == UInt8(ascii: "\"") { inQuotes = true } else { append(byte) }
    }

    /// Ends the input: `false` when a double quote is left open; otherwise `end` for an argument
    /// still open.
    @inline(__always)
    mutating func finish(end: () -> Void) -> Bool {
        guard !inQuotes else { return false }
        if inArgument {
            end()
            inArgument = false
        }
        return true
    }
}
