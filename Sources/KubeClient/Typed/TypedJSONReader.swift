import KubeAPI

/// Hand-written decoders for the objects kube-proxy receives by the ten thousand (`Service`,
/// `EndpointSlice` and what they contain), reading a manifest's ``JSONValue`` tree or an API
/// response's ``JSONTape`` directly.
///
/// Why they exist: `Codable` over either source spends most of its time in its own machinery
/// (a `KeyedDecodingContainer` box per object, a `CodingKey` looked up by name per field, generic
/// metadata look-ups, one existential call per value); at 10k Services × 10 endpoints that was
/// the largest part of start-up decoding. These decoders walk an object's members once, map each
/// key to a field through a ``FieldTable`` and switch on it.
///
/// They are the fast path only, never the judge: on anything they are not sure about (a type
/// mismatch, a missing required field, `null` where a value is required, a number with a fraction
/// or exponent or out of `Int`'s range, a repeated key) they throw ``TypedDecodingGiveUp`` and
/// the caller decodes the same input with the `Codable` path, so every error keeps its wording
/// and field path. Unknown keys are ignored, as the synthesized `Decodable` conformances ignore
/// them. A value they return equals what the `Codable` path returns (the differential tests and
/// the `typed-decode` fuzz target hold them to it).
///
/// Maintenance: every decoded type lists its JSON keys in a `TypedField` enum next to its decoder
/// (`Typed/*+TypedDecoding.swift`). A stored property added to one of these API types must be
/// added there too; the compiler then asks for its arm in the decoder's `switch`, and
/// `TypedDecodingTests` fail while the enum and the type's stored properties differ.
protocol TypedDecodable {
    /// Decodes `value`, or gives up (the `Codable` path then decides).
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> Self
}

/// A typed decoder met something it does not handle exactly as the `Codable` path would; that
/// path decodes the input instead (and produces the error, if there is one).
struct TypedDecodingGiveUp: Error {}

/// A JSON document as the typed decoders read it: the manifest tree (``JSONValueReader``) or
/// the API tape (``JSONTapeReader``). Each accessor accepts exactly the JSON kinds the
/// corresponding `Codable` fast path (`JSONValueDecoder`, `JSONTapeDecoder`) decodes without
/// refusing, and gives up on the rest.
protocol TypedJSONReader {
    /// A value of the document (a tree node, or a tape index).
    associatedtype Value

    /// Whether `value` is JSON `null` (an optional field is then absent, as `decodeIfPresent` has it).
    func isNull(_ value: Value) -> Bool
    /// A JSON string.
    func string(_ value: Value) throws(TypedDecodingGiveUp) -> String
    /// A JSON integer that fits `Int`, written without fraction or exponent.
    func int(_ value: Value) throws(TypedDecodingGiveUp) -> Int
    /// `true` or `false`.
    func bool(_ value: Value) throws(TypedDecodingGiveUp) -> Bool
    /// An integer (as ``int(_:)``) or a string.
    func intOrString(_ value: Value) throws(TypedDecodingGiveUp) -> IntOrString
    /// An object of strings (labels, selectors, annotations); a repeated key gives up.
    func stringMap(_ value: Value) throws(TypedDecodingGiveUp) -> [String: String]
    /// An array, each element decoded by `element`, built at its exact size.
    func array<Element>(
        _ value: Value, _ element: (Value) throws(TypedDecodingGiveUp) -> Element
    ) throws(TypedDecodingGiveUp) -> [Element]
    /// Calls `body` for each member of an object whose key is in `table`, in document order;
    /// other keys are skipped. A field present twice gives up.
    func members<Field>(
        _ value: Value, _ table: FieldTable<Field>, _ body: (Field, Value) throws(TypedDecodingGiveUp) -> Void
    ) throws(TypedDecodingGiveUp)
}

extension TypedJSONReader {
    /// `nil` for `null`, else the value decoded by `decode` (`decodeIfPresent`'s reading).
    @inline(__always)
    func optional<T>(_ value: Value, _ decode: (Value) throws(TypedDecodingGiveUp) -> T) throws(TypedDecodingGiveUp) -> T? {
        isNull(value) ? nil : try decode(value)
    }

    /// An optional string.
    func optionalString(_ value: Value) throws(TypedDecodingGiveUp) -> String? {
        isNull(value) ? nil : try string(value)
    }

    /// An optional integer.
    func optionalInt(_ value: Value) throws(TypedDecodingGiveUp) -> Int? {
        isNull(value) ? nil : try int(value)
    }

    /// An optional `true`/`false`.
    func optionalBool(_ value: Value) throws(TypedDecodingGiveUp) -> Bool? {
        isNull(value) ? nil : try bool(value)
    }

    /// An optional array of strings.
    func optionalStrings(_ value: Value) throws(TypedDecodingGiveUp) -> [String]? {
        isNull(value) ? nil : try array(value) { element throws(TypedDecodingGiveUp) in try string(element) }
    }

    /// An optional object of strings.
    func optionalStringMap(_ value: Value) throws(TypedDecodingGiveUp) -> [String: String]? {
        isNull(value) ? nil : try stringMap(value)
    }

    /// An optional object of a typed-decodable type.
    func optionalObject<T: TypedDecodable>(_ type: T.Type, _ value: Value) throws(TypedDecodingGiveUp) -> T? {
        isNull(value) ? nil : try T.decodeTyped(value, from: self)
    }

    /// An optional array of a typed-decodable type.
    func optionalObjects<T: TypedDecodable>(_ type: T.Type, _ value: Value) throws(TypedDecodingGiveUp) -> [T]? {
        if isNull(value) { return nil }
        return try array(value) { element throws(TypedDecodingGiveUp) in try T.decodeTyped(element, from: self) }
    }
}

/// The JSON keys of one type's fields, for mapping a member's key bytes to its field without
/// making a string: candidates are grouped by key length and compared byte for byte.
///
/// Keys are matched by their UTF-8 bytes (after escapes are resolved), where the `Codable` paths
/// compare `String`s, which are equal under Unicode canonical equivalence. The two agree because
/// every field name is ASCII without `K`, `;` or `` ` ``: the only characters canonically
/// equivalent to an ASCII character are U+212A KELVIN SIGN, U+037E GREEK QUESTION MARK and
/// U+1FEF GREEK VARIA (which decompose to those three), so no other spelling of a field name is
/// equal to it as a `String`. The initialiser checks this.
struct FieldTable<Field: CaseIterable & RawRepresentable & Sendable>: Sendable where Field.RawValue == String {
    private let fields: [Field]
    private let names: [[UInt8]]
    /// `byLength[n]`: indices into `fields` of the names `n` bytes long.
    private let byLength: [[Int]]

    /// The table of every case of `Field`, keyed by its raw value.
    init() {
        fields = Array(Field.allCases)
        names = fields.map { Array($0.rawValue.utf8) }
        precondition(fields.count <= 64, "FieldTable tracks repeated fields in a 64-bit mask")
        for name in names {
            precondition(
                name.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "K") && $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "`") },
                "field name \(String(decoding: name, as: UTF8.self)) would have canonically equivalent spellings")
        }
        var byLength = [[Int]](repeating: [], count: (names.map(\.count).max() ?? 0) + 1)
        for (index, name) in names.enumerated() { byLength[name.count].append(index) }
        self.byLength = byLength
    }

    /// The number of fields.
    var count: Int { fields.count }

    /// The field at `index` (as returned by ``index(of:)``).
    func field(at index: Int) -> Field { fields[index] }

    /// The index of the field spelled by `key` (UTF-8), or `nil` for a key not in the table.
    func index(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        guard key.count < byLength.count else { return nil }
        for candidate in byLength[key.count] {
            let matches = names[candidate].withUnsafeBufferPointer { name in
                for offset in 0..<key.count where key[offset] != name[offset] { return false }
                return true
            }
            if matches { return candidate }
        }
        return nil
    }

    /// The index of the field spelled by `key`, or `nil`.
    func index(of key: String) -> Int? {
        if let found = key.utf8.withContiguousStorageIfAvailable({ index(of: $0) }) { return found }
        return Array(key.utf8).withUnsafeBufferPointer { index(of: $0) }
    }
}

/// Records which fields of one object were seen, to give up on a repeated one.
struct SeenFields {
    private var mask: UInt64 = 0

    /// Marks field `index` seen; gives up if it already was.
    @inline(__always)
    mutating func insert(_ index: Int) throws(TypedDecodingGiveUp) {
        let bit: UInt64 = 1 << UInt64(index)
        guard mask & bit == 0 else { throw TypedDecodingGiveUp() }
        mask |= bit
    }
}

/// The types the `Codable` fast paths hand to their typed decoders: the objects kube-proxy
/// receives by the thousand. The entry points are concrete (one per reader) so that each
/// decoder and everything it calls is compiled for that reader; reached through the generic
/// requirement alone, the decoders ran unspecialised (witness-table calls, generic metadata
/// look-ups, closures not inlined), about half of their time.
protocol TypedDecodingRoot: TypedDecodable {
    /// Decodes a manifest tree, or gives up.
    static func decodeTyped(tree value: JSONValue) throws(TypedDecodingGiveUp) -> Self
    /// Decodes the value at tape `index`, or gives up.
    static func decodeTyped(tape index: Int, in reader: JSONTapeReader) throws(TypedDecodingGiveUp) -> Self
}

/// The hooks of the `Codable` fast paths: a type with a typed decoder is decoded by it first.
enum TypedDecoding {
    /// `type` decoded from a manifest tree by its typed decoder, or `nil` when `type` has none
    /// or it gave up.
    @inline(__always)
    static func decode<T>(_ type: T.Type, tree value: JSONValue) -> T? {
        guard let root = type as? any TypedDecodingRoot.Type else { return nil }
        return tree(root, value) as? T
    }

    /// `type` decoded from the value at tape `index` by its typed decoder, or `nil` when `type`
    /// has none or it gave up.
    @inline(__always)
    static func decode<T>(_ type: T.Type, tape index: Int, in reader: JSONTapeReader) -> T? {
        guard let root = type as? any TypedDecodingRoot.Type else { return nil }
        return tape(root, index, reader) as? T
    }

    private static func tree<D: TypedDecodingRoot>(_ type: D.Type, _ value: JSONValue) -> D? {
        try? D.decodeTyped(tree: value)
    }

    private static func tape<D: TypedDecodingRoot>(_ type: D.Type, _ index: Int, _ reader: JSONTapeReader) -> D? {
        try? D.decodeTyped(tape: index, in: reader)
    }
}
