// libyaml, as vendored by Yams (see ManifestParser+Aliases.swift for why we reach below Yams).
internal import CYaml
import Foundation
import KubeAPI
import Yams

extension ManifestParser {
    /// Builds each YAML document straight from libyaml's event stream as `JSONValue`, handing it
    /// to `body` as soon as it is complete, without composing Yams nodes first.
    ///
    /// Composing with Yams cost most of the start-up at 10k Services: every plain scalar is
    /// resolved by up to seven `NSRegularExpression`s, and every mapping hashes its keys (which
    /// resolves them again) to find duplicates. This path resolves plain scalars with
    /// ``plainScalar(_:)``, a byte-level matcher equivalent to Yams' default resolver, and keeps a
    /// document only as long as `body` runs.
    ///
    /// It covers what ordinary manifests use. Anything else makes it give up (return `false`)
    /// so that the composing path, with its exact semantics and error messages, handles the
    /// file: a syntax error, an alias or merge key (a `*` anywhere in the file: aliases are
    /// also what the alias-bomb check is for), an explicit tag, a key that is not a scalar, a
    /// key written twice, a scalar Yams would refuse (`.inf`), or more than `maxDocuments`
    /// documents. `body` may have been called for earlier documents by then; the caller
    /// discards what it built.
    static func streamDocuments(in data: Data, maxDocuments: Int, _ body: (JSONValue) -> Void) -> Bool {
        return data.withUnsafeBytes { bytes in
            // `memchr` rather than `Data.contains`, which steps an iterator call per byte.
            if let base = bytes.baseAddress, memchr(base, Int32(UInt8(ascii: "*")), bytes.count) != nil {
                return false
            }
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return false }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count)
            var builder = EventBuilder(maxDocuments: maxDocuments)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                let step = builder.consume(&event, body)
                yaml_event_delete(&event)
                switch step {
                case .next: continue
                case .done: return true
                case .unsupported: return false
                }
            }
            return false
        }
    }

    /// The JSON value of a plain (unquoted, untagged) scalar under the YAML 1.1 core schema
    /// Yams' default resolver implements, or `nil` where only Yams can say (a non-finite float,
    /// `<<`). Equivalent to resolving with `Resolver.default` and converting as
    /// ``json(from:)`` does: the rules are tried in Yams' order (bool, int, float, merge, null;
    /// timestamps and `=` stay strings, as everything unmatched does).
    static func plainScalar(_ text: String) -> JSONValue? {
        var bytes = text
        switch bytes.withUTF8(PlainScalarKind.init) {
        case .string: return .string(text)
        case .null: return .null
        case .bool(let value): return .bool(value)
        case .merge: return nil
        case .decimal(let value): return .int(value)
        case .int:
            // Yams' constructor for 0x/0o/0b/octal/underscores/sexagesimal; an integer too large
            // for Int stays text, as in `json(from:)`.
            return ManifestParser.integer(from: Node.Scalar(text, Tag(.int), .plain)).map(JSONValue.int) ?? .string(text)
        case .float:
            guard let value = Double.construct(from: Node.Scalar(text, Tag(.float), .plain)) else {
                return .string(text)
            }
            return value.isFinite ? .double(value) : nil
        }
    }
}

/// What one plain scalar resolves to, decided on its bytes.
private enum PlainScalarKind {
    case string
    case null
    case bool(Bool)
    case merge
    /// An integer of the common `[-+]?(0|[1-9][0-9]*)` form that fits in `Int`, parsed.
    case decimal(Int)
    /// Any other spelling Yams' int rule accepts (or a decimal too large for `Int`).
    case int
    case float

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let first = bytes.first else {
            self = .null
            return
        }
        // Every int and float spelling starts with a sign, a digit or a dot.
        let numeric =
            first == UInt8(ascii: "+") || first == UInt8(ascii: "-") || first == UInt8(ascii: ".")
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        if !numeric {
            self = Self.word(bytes)
            return
        }
        if let value = Self.decimal(bytes) {
            self = .decimal(value)
        } else if YAMLNumberGrammar.isInt(bytes) {
            self = .int
        } else if YAMLNumberGrammar.isFloat(bytes) {
            self = .float
        } else {
            self = .string
        }
    }

    /// Bools, nulls and the merge key: the exact spellings of Yams' rules.
    private static func word(_ bytes: UnsafeBufferPointer<UInt8>) -> PlainScalarKind {
        guard bytes.count <= 5 else { return .string }
        switch String(decoding: bytes, as: UTF8.self) {
        case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        case "~", "null", "Null", "NULL": return .null
        case "<<": return .merge
        default: return .string
        }
    }

    /// `[-+]?(0|[1-9][0-9]*)` with at most 18 digits (so it fits in `Int`), parsed.
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            negative = bytes[0] == UInt8(ascii: "-")
            index = 1
        }
        let digits = bytes.count - index
        guard digits >= 1, digits <= 18 else { return nil }
        // `0` only unsigned: Yams' constructor reads `+0` and `-0` as octal with no digits,
        // which fails, so they stay strings.
        if bytes[index] == UInt8(ascii: "0") && (digits > 1 || index > 0) { return nil }
        var value = 0
        while index < bytes.count {
            let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
            guard digit >= 0, digit <= 9 else { return nil }
            value = value * 10 + digit
            index += 1
        }
        return negative ? -value : value
    }
}

/// Yams' int and float rules (`Resolver.Rule.int`, `.float`) as hand-written matchers over
/// ASCII bytes; each function is one alternative of the regular expression, anchored at both
/// ends.
enum YAMLNumberGrammar {
    /// `^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`
    static func isInt(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var scanner = ByteScanner(bytes)
        scanner.skipSign()
        let body = scanner
        return prefixed(body, "0b", digits: isBinary) || octal(body) || decimal(body)
            || prefixed(body, "0x", digits: isHex) || sexagesimalInt(body)
    }

    /// `^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`
    static func isFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let whole = ByteScanner(bytes)
        var signed = whole
        signed.skipSign()
        return plainFloat(signed) || leadingDotFloat(whole) || sexagesimalFloat(signed) || infinity(signed)
            || notANumber(whole)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    private static func isBinary(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") || byte == UInt8(ascii: "_")
    }
    private static func isOctal(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) || byte == UInt8(ascii: "_")
    }
    private static func isDigitOrUnderscore(_ byte: UInt8) -> Bool { isDigit(byte) || byte == UInt8(ascii: "_") }
    private static func isHex(_ byte: UInt8) -> Bool {
        isDigitOrUnderscore(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    /// `PREFIX[digits]+$`
    private static func prefixed(_ start: ByteScanner, _ prefix: String, digits: (UInt8) -> Bool) -> Bool {
        var scanner = start
        guard scanner.skip(prefix) else { return false }
        return scanner.skipAll(digits) >= 1 && scanner.atEnd
    }

    /// `0o?[0-7_]+$`
    private static func octal(_ start: ByteScanner) -> Bool {
        var scanner = start
        guard scanner.skip("0") else { return false }
        _ = scanner.skip("o")
        return scanner.skipAll(isOctal) >= 1 && scanner.atEnd
    }

    /// `(?:0|[1-9][0-9_]*)$`
    private static func decimal(_ start: ByteScanner) -> Bool {
        var scanner = start
        if scanner.skip("0") { return scanner.atEnd }
        guard scanner.skipOne(where: isDigit) else { return false }
        scanner.skipAll(isDigitOrUnderscore)
        return scanner.atEnd
    }

    /// `[1-9][0-9_]*(?::[0-5]?[0-9])+$`
    private static func sexagesimalInt(_ start: ByteScanner) -> Bool {
        var scanner = start
        guard let first = scanner.peek, first != UInt8(ascii: "0"), scanner.skipOne(where: isDigit) else {
            return false
        }
        scanner.skipAll(isDigitOrUnderscore)
        return sexagesimalGroups(&scanner) && scanner.atEnd
    }

    /// `(?::[0-5]?[0-9])+`, greedy with backtracking over the optional first digit.
    private static func sexagesimalGroups(_ scanner: inout ByteScanner) -> Bool {
        var groups = 0
        while scanner.peek == UInt8(ascii: ":") {
            var attempt = scanner
            attempt.advance()
            // `[0-5]?[0-9]`: two digits when the first is 0-5 and a digit follows, else one.
            if let a = attempt.peek, (UInt8(ascii: "0")...UInt8(ascii: "5")).contains(a), let b = attempt.peek(1),
                isDigit(b)
            {
                attempt.advance(2)
            } else if let a = attempt.peek, isDigit(a) {
                attempt.advance()
            } else {
                break
            }
            scanner = attempt
            groups += 1
        }
        return groups >= 1
    }

    /// `[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?$`
    private static func plainFloat(_ start: ByteScanner) -> Bool {
        var scanner = start
        guard scanner.skipOne(where: isDigit) else { return false }
        scanner.skipAll(isDigitOrUnderscore)
        if scanner.skip(".") { scanner.skipAll(isDigitOrUnderscore) }
        return exponent(&scanner, signRequired: false) && scanner.atEnd
    }

    /// `\.[0-9_]+(?:[eE][-+][0-9]+)?$` (no sign before the dot)
    private static func leadingDotFloat(_ start: ByteScanner) -> Bool {
        var scanner = start
        guard scanner.skip("."), scanner.skipAll(isDigitOrUnderscore) >= 1 else { return false }
        return exponent(&scanner, signRequired: true) && scanner.atEnd
    }

    /// An optional `[eE][-+]?[0-9]+` (`[eE][-+][0-9]+` when `signRequired`); `false` when an
    /// exponent starts but is malformed (the regex then cannot reach the end either).
    private static func exponent(_ scanner: inout ByteScanner, signRequired: Bool) -> Bool {
        guard scanner.peek == UInt8(ascii: "e") || scanner.peek == UInt8(ascii: "E") else { return true }
        scanner.advance()
        let signed = scanner.skipSign()
        if signRequired && !signed { return false }
        return scanner.skipAll(isDigit) >= 1
    }

    /// `[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$`
    private static func sexagesimalFloat(_ start: ByteScanner) -> Bool {
        var scanner = start
        guard scanner.skipOne(where: isDigit) else { return false }
        scanner.skipAll(isDigitOrUnderscore)
        guard sexagesimalGroups(&scanner), scanner.skip(".") else { return false }
        scanner.skipAll(isDigitOrUnderscore)
        return scanner.atEnd
    }

    /// `\.(?:inf|Inf|INF)$` after an optional sign
    private static func infinity(_ start: ByteScanner) -> Bool {
        ["inf", "Inf", "INF"].contains { spelling in
            var scanner = start
            return scanner.skip(".") && scanner.skip(spelling) && scanner.atEnd
        }
    }

    /// `\.(?:nan|NaN|NAN)$` with no sign
    private static func notANumber(_ start: ByteScanner) -> Bool {
        ["nan", "NaN", "NAN"].contains { spelling in
            var scanner = start
            return scanner.skip(".") && scanner.skip(spelling) && scanner.atEnd
        }
    }
}

/// A cursor over bytes for the matchers above; copying it saves a position to backtrack to.
struct ByteScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { index == bytes.count }
    var peek: UInt8? { peek(0) }

    func peek(_ offset: Int) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    mutating func advance(_ count: Int = 1) {
        index = min(index + count, bytes.count)
    }

    /// Skips a leading `+` or `-`; whether there was one.
    @discardableResult
    mutating func skipSign() -> Bool {
        guard peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") else { return false }
        advance()
        return true
    }

    /// Skips `literal` (ASCII) if it is next; whether it was.
    mutating func skip(_ literal: String) -> Bool {
        var offset = 0
        for byte in literal.utf8 {
            guard peek(offset) == byte else { return false }
            offset += 1
        }
        advance(offset)
        return true
    }

    /// Skips one byte matching `predicate`; whether there was one.
    mutating func skipOne(where predicate: (UInt8) -> Bool) -> Bool {
        guard let byte = peek, predicate(byte) else { return false }
        advance()
        return true
    }

    /// Skips every following byte matching `predicate`; how many.
    @discardableResult
    mutating func skipAll(_ predicate: (UInt8) -> Bool) -> Int {
        let start = index
        while let byte = peek, predicate(byte) { advance() }
        return index - start
    }
}

/// The state of ``ManifestParser/streamDocuments(in:maxDocuments:_:)``: the open sequences and
/// mappings of the current document.
private struct EventBuilder {
    enum Step {
        case next
        case done
        case unsupported
    }

    /// An open collection. One struct for both kinds so the top of the stack is mutated in
    /// place (an enum payload would be copied on every append).
    struct Frame {
        var isMapping: Bool
        var items: [JSONValue] = []
        /// A mapping's members in the order read; hashed once, into the object, when the
        /// mapping ends (a lookup per key to refuse repeats, then an insert, cost twice that).
        var members: [(String, JSONValue)] = []
        /// In a mapping: the key read, waiting for its value.
        var key: String?
    }

    let maxDocuments: Int
    var documents = 0
    var open: [Frame] = []

    init(maxDocuments: Int) {
        self.maxDocuments = maxDocuments
    }

    mutating func consume(_ event: inout yaml_event_t, _ body: (JSONValue) -> Void) -> Step {
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return .done
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            return documents > maxDocuments ? .unsupported : .next
        case YAML_SCALAR_EVENT:
            return scalar(event, body)
        case YAML_SEQUENCE_START_EVENT:
            let start = event.data.sequence_start
            guard !expectingKey, start.implicit != 0 || start.tag == nil else { return .unsupported }
            open.append(Frame(isMapping: false))
        case YAML_MAPPING_START_EVENT:
            let start = event.data.mapping_start
            guard !expectingKey, start.implicit != 0 || start.tag == nil else { return .unsupported }
            open.append(Frame(isMapping: true))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = open.popLast() else { return .unsupported }
            guard frame.isMapping else { return add(.array(frame.items), body) }
            let object = [String: JSONValue](frame.members) { first, _ in first }
            // A key written twice is Yams' to judge (it compares resolved tags).
            guard object.count == frame.members.count else { return .unsupported }
            return add(.object(object), body)
        case YAML_ALIAS_EVENT:
            return .unsupported
        default:
            break
        }
        return .next
    }

    /// Whether the innermost collection is a mapping waiting for a key.
    private var expectingKey: Bool {
        guard let top = open.last else { return false }
        return top.isMapping && top.key == nil
    }

    private mutating func scalar(_ event: yaml_event_t, _ body: (JSONValue) -> Void) -> Step {
        let scalar = event.data.scalar
        // An explicit tag (`!!str 80`, `!custom x`): Yams resolves those.
        if scalar.tag != nil && scalar.quoted_implicit == 0 { return .unsupported }
        let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
        let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE
        if expectingKey {
            // `<<` is a merge key (repeated keys are found when the mapping ends).
            guard !(plain && text == "<<") else { return .unsupported }
            open[open.count - 1].key = text
            return .next
        }
        let value: JSONValue
        if plain {
            guard let resolved = ManifestParser.plainScalar(text) else { return .unsupported }
            value = resolved
        } else {
            value = .string(text)
        }
        return add(value, body)
    }

    private mutating func add(_ value: JSONValue, _ body: (JSONValue) -> Void) -> Step {
        guard !open.isEmpty else {
            body(value)
            return .next
        }
        let last = open.count - 1
        if open[last].isMapping {
            guard let key = open[last].key else { return .unsupported }
            open[last].members.append((key, value))
            open[last].key = nil
        } else {
            open[last].items.append(value)
        }
        return .next
    }
}
