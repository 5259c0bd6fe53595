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
        var arguments: [String] = []
        var current = ""
        var inArgument = false
        var inQuotes = false
        var escaped = false
        for character in line {
            if inQuotes {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inQuotes = false
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                inQuotes = true
                inArgument = true
            } else if character.isWhitespace {
                if inArgument { arguments.append(current) }
                current = ""
                inArgument = false
            } else {
                current.append(character)
                inArgument = true
            }
        }
        if inQuotes { return nil }
        if inArgument { arguments.append(current) }
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

    /// Quotes one argument when `force` is set or it could not be read back unquoted.
    public static func quoteIfNeeded(_ argument: String, force: Bool = false) -> String {
        let needs =
            force || argument.isEmpty
            || argument.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "\\" || $0 == "#" || $0 == "'" })
        guard needs else { return argument }
        var quoted = "\""
        for character in argument {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        quoted.append("\"")
        return quoted
    }
}
