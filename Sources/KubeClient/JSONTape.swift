import KubeAPI

/// JSON text parsed once into a flat list of tokens ("tape") that point back into the bytes,
/// for decoding API responses without `JSONDecoder`'s per-object dictionaries and key strings.
///
/// Why a tape rather than a ``JSONValue`` tree: a LIST page of 500 EndpointSlices holds about
/// 60,000 values; a tree allocates a dictionary, a key string and a box for most of them, while
/// the tape is one array of 16-byte tokens. Strings are only materialised when a field asks for
/// one, and object keys are compared as bytes.
///
/// The grammar is RFC 8259 and at least as strict as `JSONDecoder`: whitespace is space, tab,
/// CR and LF; numbers follow the JSON grammar; strings reject unescaped control characters,
/// invalid UTF-8 and unpaired surrogate escapes; nothing may follow the top-level value.
/// Nesting deeper than ``maximumDepth`` is refused instead of exhausting the stack.
struct JSONTape {
    /// What a token stands for.
    enum Kind: UInt8 {
        case null, `true`, `false`, number, string, object, array
    }

    /// One JSON value (or object key).
    struct Token {
        /// The kind of value.
        var kind: Kind
        /// Strings: the content holds escapes. Numbers: the literal has a fraction or exponent.
        var flag: Bool
        /// Scalars: first byte of the content (after the opening quote of a string).
        /// Containers: the byte offset of the bracket, for error messages.
        var start: UInt32
        /// Scalars: the byte after the content. Containers: the tape index after the container's
        /// last descendant, so a decoder skips a member in one step.
        var end: UInt32
        /// Containers: the number of members or elements.
        var count: UInt32
    }

    /// Deepest nesting of arrays and objects accepted (`JSONDecoder` stops at 512 too).
    static let maximumDepth = 512

    /// The JSON text.
    let bytes: [UInt8]
    /// The values in document order; an object's members are key, value, key, value….
    let tokens: [Token]

    /// Parses `bytes` as one JSON document.
    init(parsing bytes: [UInt8]) throws(JSONSyntaxError) {
        guard bytes.count < Int(UInt32.max) else {
            throw JSONSyntaxError(offset: 0, reason: "document of \(bytes.count) bytes is too large")
        }
        var scanner = JSONScanner(bytes: bytes)
        try scanner.document()
        self.bytes = bytes
        self.tokens = scanner.tokens
    }

    /// The tape index after the value at `index` (and after all of its members).
    func skip(_ index: Int) -> Int {
        let token = tokens[index]
        switch token.kind {
        case .object, .array: return Int(token.end)
        default: return index + 1
        }
    }

    /// The string at `index` (a string token), with escapes resolved.
    func string(at index: Int) -> String {
        let token = tokens[index]
        let range = Int(token.start)..<Int(token.end)
        guard token.flag else { return String(decoding: bytes[range], as: UTF8.self) }
        return String(decoding: Self.unescape(bytes[range]), as: UTF8.self)
    }

    /// Whether the key token at `index` spells `name`, compared as UTF-8 bytes.
    func keyEquals(_ index: Int, _ name: String) -> Bool {
        let token = tokens[index]
        if token.flag { return string(at: index) == name }
        let start = Int(token.start)
        let length = Int(token.end) - start
        var name = name
        return name.withUTF8 { utf8 in
            guard utf8.count == length else { return false }
            for offset in 0..<length where bytes[start + offset] != utf8[offset] {
                return false
            }
            return true
        }
    }

    /// The number at `index` as an `Int`, or `nil` when it has a fraction or exponent or does
    /// not fit (those are left to `JSONDecoder`).
    func integer(at index: Int) -> Int? {
        let token = tokens[index]
        guard token.kind == .number, !token.flag else { return nil }
        var position = Int(token.start)
        let end = Int(token.end)
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        var value = 0
        while position < end {
            let digit = Int(bytes[position] &- UInt8(ascii: "0"))
            let (scaled, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) =
                negative ? scaled.subtractingReportingOverflow(digit) : scaled.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = next
            position += 1
        }
        return value
    }

    /// The number at `index` as a `Double` when it is a plain integer literal, else `nil`:
    /// `JSONDecoder`'s reading of fractions and exponents is its own (see ``value(at:)``), and
    /// an infinite value is for it to refuse in its own words.
    func double(at index: Int) -> Double? {
        let token = tokens[index]
        guard token.kind == .number, !token.flag else { return nil }
        let text = String(decoding: bytes[Int(token.start)..<Int(token.end)], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// The value at `index` as a ``JSONValue``, classified as `JSONValue.init(from:)` classifies
    /// it; `nil` when an object repeats a key or a number is not a plain integer that fits
    /// `Int` (left to `JSONDecoder`, whose choices the fast path does not guess).
    func value(at index: Int) -> JSONValue? {
        let token = tokens[index]
        switch token.kind {
        case .null: return .null
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .string: return .string(string(at: index))
        case .number:
            // A fraction or exponent, or an integer beyond `Int`, is left to `JSONDecoder`: it
            // reads `-11111111111111111.11` as the integer -11111111111111111, where going
            // through `Double` gives -11111111111111112 (found by fuzzing).
            return integer(at: index).map(JSONValue.int)
        case .array:
            var elements: [JSONValue] = []
            elements.reserveCapacity(Int(token.count))
            var child = index + 1
            for _ in 0..<token.count {
                guard let element = value(at: child) else { return nil }
                elements.append(element)
                child = skip(child)
            }
            return .array(elements)
        case .object:
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(Int(token.count))
            var child = index + 1
            for _ in 0..<token.count {
                guard let member = value(at: child + 1) else { return nil }
                guard members.updateValue(member, forKey: string(at: child)) == nil else { return nil }
                child = skip(child + 1)
            }
            return .object(members)
        }
    }

    /// The content of an escaped string (already validated by the scanner).
    private static func unescape(_ content: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(content.count)
        var position = content.startIndex
        while position < content.endIndex {
            let byte = content[position]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                position += 1
                continue
            }
            let escape = content[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(content, position)
                position += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    let low = hex4(content, position + 2)
                    position += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                // The scanner admitted only valid scalars; U+FFFD keeps this total anyway.
                let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                output.append(contentsOf: String(character).utf8)
            default: output.append(escape)  // " \ /
            }
        }
        return output
    }

    private static func hex4(_ content: ArraySlice<UInt8>, _ position: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            value = value << 4 | UInt32(hexDigit(content[position + offset]) ?? 0)
        }
        return value
    }

    /// The value of a hexadecimal digit, or `nil`.
    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Text that is not valid JSON: where (byte offset) and what was wrong.
struct JSONSyntaxError: Error, Hashable, CustomStringConvertible {
    /// Byte offset of the offending character (or of the end of the input).
    var offset: Int
    /// What was expected or found.
    var reason: String

    /// `invalid JSON at byte 12: expected ':' after an object key`.
    var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// The scanner behind ``JSONTape``: iterative (an explicit stack of open containers), so deep
/// nesting costs heap, bounded by ``JSONTape/maximumDepth``, not stack.
private struct JSONScanner {
    let bytes: [UInt8]
    var position = 0
    var tokens: [JSONTape.Token] = []
    /// Tape indices of the open containers, innermost last.
    var open: [Int] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
        tokens.reserveCapacity(bytes.count / 12)
    }

    mutating func document() throws(JSONSyntaxError) {
        skipWhitespace()
        while true {
            // A value starts here.
            let closedImmediately = try value()
            if !closedImmediately, try openedContainerAwaitsMember() { continue }
            // A value (or an empty container) ended: close containers until one continues.
            if try afterValue() { continue }
            return
        }
    }

    /// Scans one value; an opened container is pushed. Returns true when the value is complete
    /// (a scalar or an empty container), false when a container was opened and not yet closed.
    private mutating func value() throws(JSONSyntaxError) -> Bool {
        guard position < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard open.count < JSONTape.maximumDepth else {
                throw error("nested deeper than \(JSONTape.maximumDepth) arrays and objects")
            }
            let isObject = bytes[position] == UInt8(ascii: "{")
            open.append(tokens.count)
            tokens.append(
                JSONTape.Token(
                    kind: isObject ? .object : .array, flag: false, start: UInt32(position), end: 0, count: 0))
            position += 1
            skipWhitespace()
            let closer = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            if position < bytes.count, bytes[position] == closer {
                position += 1
                close()
                return true
            }
            return false
        case UInt8(ascii: "\""):
            try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
        case UInt8(ascii: "t"):
            try literal("true", .true)
        case UInt8(ascii: "f"):
            try literal("false", .false)
        case UInt8(ascii: "n"):
            try literal("null", .null)
        default:
            throw error("unexpected \(describe(bytes[position])), expected a value")
        }
        return true
    }

    /// After opening a non-empty container: an object needs its first key and colon.
    /// Returns true (the caller scans the member's value next).
    private mutating func openedContainerAwaitsMember() throws(JSONSyntaxError) -> Bool {
        if tokens[open[open.count - 1]].kind == .object { try key() }
        return true
    }

    /// After a complete value: count it in its container, then `,` continues the container and
    /// a closing bracket closes it (and the loop repeats for the parent). Returns true when
    /// another value is to be scanned, false at the end of the document.
    private mutating func afterValue() throws(JSONSyntaxError) -> Bool {
        while let parent = open.last {
            tokens[parent].count += 1
            skipWhitespace()
            let isObject = tokens[parent].kind == .object
            guard position < bytes.count else {
                throw error("unexpected end of input, expected ',' or '\(isObject ? "}" : "]")'")
            }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
                if isObject { try key() }
                return true
            case UInt8(ascii: "}") where isObject, UInt8(ascii: "]") where !isObject:
                position += 1
                close()
            default:
                throw error("unexpected \(describe(bytes[position])), expected ',' or '\(isObject ? "}" : "]")'")
            }
        }
        skipWhitespace()
        guard position == bytes.count else {
            throw error("unexpected \(describe(bytes[position])) after the document")
        }
        return false
    }

    /// Closes the innermost container: its `end` is the tape index after it.
    private mutating func close() {
        let index = open.removeLast()
        tokens[index].end = UInt32(tokens.count)
    }

    /// An object key and its colon, whitespace included.
    private mutating func key() throws(JSONSyntaxError) {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
            throw error(
                position < bytes.count
                    ? "unexpected \(describe(bytes[position])), expected an object key" : "unexpected end of input, expected an object key")
        }
        try string()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
            throw error("expected ':' after an object key")
        }
        position += 1
        skipWhitespace()
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
            default: return
            }
        }
    }

    private mutating func literal(_ word: StaticString, _ kind: JSONTape.Kind) throws(JSONSyntaxError) {
        let length = word.utf8CodeUnitCount
        guard position + length <= bytes.count else { throw error("unexpected end of input in '\(word)'") }
        for offset in 0..<length where bytes[position + offset] != word.utf8Start[offset] {
            position += offset
            throw error("unexpected \(describe(bytes[position])) in '\(word)'")
        }
        tokens.append(JSONTape.Token(kind: kind, flag: false, start: UInt32(position), end: 0, count: 0))
        position += length
    }

    private mutating func number() throws(JSONSyntaxError) {
        let start = position
        var fractional = false
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else { throw error("expected a digit after '-'") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            skipDigits()
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            fractional = true
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw error("expected a digit after the decimal point")
            }
            skipDigits()
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            fractional = true
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw error("expected a digit in the exponent")
            }
            skipDigits()
        }
        tokens.append(
            JSONTape.Token(kind: .number, flag: fractional, start: UInt32(start), end: UInt32(position), count: 0))
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private mutating func skipDigits() {
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    }

    /// A string from its opening quote; the token spans the content between the quotes.
    private mutating func string() throws(JSONSyntaxError) {
        let opening = position
        position += 1
        let start = position
        var escaped = false
        while true {
            guard position < bytes.count else {
                position = opening
                throw error("unterminated string")
            }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                try escape()
            } else if byte < 0x20 {
                throw error("unescaped control character \(describe(byte)) in a string")
            } else if byte < 0x80 {
                position += 1
            } else {
                try utf8Sequence()
            }
        }
        tokens.append(
            JSONTape.Token(kind: .string, flag: escaped, start: UInt32(start), end: UInt32(position), count: 0))
        position += 1
    }

    /// One escape sequence from its backslash; `\u` surrogates must come in pairs.
    private mutating func escape() throws(JSONSyntaxError) {
        guard position + 1 < bytes.count else { throw error("unterminated escape sequence") }
        switch bytes[position + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
        case UInt8(ascii: "u"):
            let scalar = try hexEscape()
            if (0xDC00..<0xE000).contains(scalar) {
                position -= 6
                throw error("unpaired low surrogate in a \\u escape")
            }
            if (0xD800..<0xDC00).contains(scalar) {
                let high = position - 6
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u"), (0xDC00..<0xE000).contains(try hexEscape())
                else {
                    position = high
                    throw error("unpaired high surrogate in a \\u escape")
                }
            }
        default:
            throw error("invalid escape sequence '\\\(describe(bytes[position + 1]))'")
        }
    }

    /// `\uXXXX` from its backslash: the code unit.
    private mutating func hexEscape() throws(JSONSyntaxError) -> UInt32 {
        guard position + 6 <= bytes.count else { throw error("incomplete \\u escape") }
        var value: UInt32 = 0
        for offset in 2..<6 {
            guard let digit = JSONTape.hexDigit(bytes[position + offset]) else {
                throw error("invalid \\u escape: four hexadecimal digits expected")
            }
            value = value << 4 | UInt32(digit)
        }
        position += 6
        return value
    }

    /// One multi-byte UTF-8 sequence (no overlong forms, surrogates or values above U+10FFFF).
    private mutating func utf8Sequence() throws(JSONSyntaxError) {
        let lead = bytes[position]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            upper = 0x9F
        case 0xF0:
            length = 4
            lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            upper = 0x8F
        default: throw error("invalid UTF-8 in a string")
        }
        guard position + length <= bytes.count else { throw error("invalid UTF-8 in a string") }
        let second = bytes[position + 1]
        guard second >= lower, second <= upper else { throw error("invalid UTF-8 in a string") }
        for offset in 2..<max(length, 2) where bytes[position + offset] & 0xC0 != 0x80 {
            throw error("invalid UTF-8 in a string")
        }
        position += length
    }

    private func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: position, reason: reason)
    }

    /// A byte for a message: the character when printable ASCII, else its hex value.
    private func describe(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }
}
