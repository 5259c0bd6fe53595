/// Makes text that came from a manifest (names, keys, values, whole YAML lines in parser
/// messages) safe to put in an error message and a log line: short, and on one line.
///
/// A manifest is untrusted input. Without this a 400 KB annotation becomes a 400 KB log line,
/// and a value holding `\n` or an ANSI escape can forge log lines or repaint a terminal.
enum ManifestExcerpt {
    /// The default longest excerpt, in characters, before the `…(N bytes)` marker.
    static let defaultLimit = 200

    /// `text` with control characters escaped (`\n`, `\r`, `\t`, else `\u{1B}`), cut after
    /// `limit` characters with `…(N bytes)` giving the original UTF-8 size. Stops scanning at
    /// the cut, so the cost does not grow with the input.
    static func excerpt(_ text: String, limit: Int = defaultLimit) -> String {
        var output = ""
        var length = 0
        for scalar in text.unicodeScalars {
            let piece = escaped(scalar)
            if length + piece.count > limit {
                return output + "…(\(text.utf8.count) bytes)"
            }
            output += piece
            length += piece.count
        }
        return output
    }

    /// `excerpt` in double quotes, for quoting a value inside a sentence.
    static func quoted(_ text: String, limit: Int = defaultLimit) -> String {
        "\"" + excerpt(text, limit: limit) + "\""
    }

    /// Whether `text` needs no change: short enough and nothing to escape (the common case,
    /// checked first so clean messages are not rebuilt).
    static func isClean(_ text: String, limit: Int) -> Bool {
        text.utf8.count <= limit && !text.unicodeScalars.contains(where: needsEscape)
    }

    /// Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional
    /// overrides that reorder how a terminal shows the rest of the line.
    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        guard needsEscape(scalar) else { return String(scalar) }
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }
}
