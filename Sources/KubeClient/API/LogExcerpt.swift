/// Makes text that came from outside (a response body, a `Status` message, a plugin's stderr)
/// safe to put in a log line or an error: short, one line, no terminal control sequences.
///
/// Why: a hostile or broken server can send megabytes of text, newlines that forge log lines, or
/// ANSI escapes that rewrite an operator's terminal. Quoted text keeps its first `limit`
/// characters; control characters (C0, DEL, C1) become `\n`, `\r`, `\t` or `\u{XX}`; a cut is
/// marked with `…` and how many characters were left out.
enum LogExcerpt {
    /// The default length of an excerpt, in characters (before escaping).
    static let defaultLimit = 200

    /// An escaped excerpt of `text`; a cut is marked `…(N more characters)`.
    static func quote(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        let (escaped, kept) = escapedPrefix(text, limit: limit)
        let omitted = text.count - kept
        return omitted > 0 ? escaped + "…(\(omitted) more characters)" : escaped
    }

    /// An escaped excerpt of `bytes` read as UTF-8 (invalid sequences become U+FFFD); a cut is
    /// marked `…(N bytes in all)`. Only the first `4 × limit` bytes are decoded, so a huge body
    /// costs nothing.
    static func quote(bytes: some Collection<UInt8>, limit: Int = defaultLimit) -> String {
        let head = bytes.prefix(limit * 4)
        let text = String(decoding: head, as: UTF8.self)
        let (escaped, kept) = escapedPrefix(text, limit: limit)
        let cut = kept < text.count || head.count < bytes.count
        return cut ? escaped + "…(\(bytes.count) bytes in all)" : escaped
    }

    /// The first `limit` characters of `text`, escaped, and how many characters that was.
    private static func escapedPrefix(_ text: some StringProtocol, limit: Int) -> (String, Int) {
        var result = ""
        var kept = 0
        for character in text.prefix(max(0, limit)) {
            kept += 1
            for scalar in character.unicodeScalars { append(scalar, to: &result) }
        }
        return (result, kept)
    }

    private static func append(_ scalar: Unicode.Scalar, to result: inout String) {
        switch scalar.value {
        case 0x0A: result += "\\n"
        case 0x0D: result += "\\r"
        case 0x09: result += "\\t"
        case 0x00..<0x20, 0x7F..<0xA0:
            let hex = String(scalar.value, radix: 16, uppercase: true)
            result += "\\u{" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex + "}"
        default: result.unicodeScalars.append(scalar)
        }
    }
}
