import KubeAPI

/// Decodes a `Decodable` type from JSON bytes through a ``JSONTape``: the fast path for LIST
/// pages and watch lines (`JSONDecoder` was about a fifth of the API source's start-up CPU).
///
/// It only answers when it is sure to agree with `JSONDecoder`: on anything it does not handle
/// exactly as `JSONDecoder` would (a number with a fraction read as an integer, a repeated key,
/// an out-of-range number, `superDecoder`) it *refuses*, and a refusal anywhere — even one a
/// type's `init(from:)` swallowed with `try?` — makes ``decode(_:from:)`` return `nil`. So do
/// syntax errors and every decoding error: the caller then decodes with `JSONDecoder`, whose
/// errors (field paths, wording) are the ones users and tests see.
///
/// A type with a hand-written decoder (``TypedDecodable``: `Service`, `EndpointSlice`,
/// `ObjectMeta`, …) is decoded by it wherever it occurs (a LIST page's items, a watch event's
/// object); when that gives up, the `Codable` path below decodes the same value.
enum JSONTapeDecoder {
    /// `type` decoded from `bytes`, or `nil` when `JSONDecoder` must decide. `typed: false`
    /// decodes through `Codable` only (for tests comparing the two).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], typed: Bool = true) -> T? {
        guard let tape = try? JSONTape(parsing: bytes) else { return nil }
        let document = TapeDocument(tape: tape, typed: typed)
        guard let value = try? TapeDecoding.decode(type, at: 0, in: document), !document.refused else {
            return nil
        }
        return value
    }
}

/// The tape shared by every container of one decode, and whether the decode refused somewhere.
private final class TapeDocument {
    let tape: JSONTape
    /// Whether types with a typed decoder are decoded by it.
    let typed: Bool
    var refused = false

    init(tape: JSONTape, typed: Bool) {
        self.tape = tape
        self.typed = typed
    }

    /// Records a refusal and returns the error to throw.
    func refuse() -> any Error {
        refused = true
        return TapeRefusal()
    }
}

/// Thrown for a refusal: the result is decided by `JSONDecoder`.
private struct TapeRefusal: Error {}

/// A type mismatch or missing key `JSONDecoder` reports too (a string where a number belongs):
/// a `try?` in a type's `init(from:)` may go on to another reading, as it would with
/// `JSONDecoder`.
private struct TapeMismatch: Error {}

/// Arrays decoded with their exact capacity (`Array.init(from:)` grows by doubling).
private protocol TapeDecodedArray {
    static func decodeTape(at index: Int, in document: TapeDocument) throws -> Self
}

extension Array: TapeDecodedArray where Element: Decodable {
    fileprivate static func decodeTape(at index: Int, in document: TapeDocument) throws -> Self {
        let tape = document.tape
        let token = tape.tokens[index]
        guard token.kind == .array else { throw TapeMismatch() }
        var array: [Element] = []
        array.reserveCapacity(Int(token.count))
        var child = index + 1
        for _ in 0..<token.count {
            array.append(try TapeDecoding.decode(Element.self, at: child, in: document))
            child = tape.skip(child)
        }
        return array
    }
}

private enum TapeDecoding {
    /// `type` from the value at tape `index`; scalars without going through a container.
    static func decode<T: Decodable>(_ type: T.Type, at index: Int, in document: TapeDocument) throws -> T {
        let tape = document.tape
        let kind = tape.tokens[index].kind
        if type == String.self {
            guard kind == .string else { throw TapeMismatch() }
            return try cast(tape.string(at: index), in: document)
        }
        if type == Int.self {
            guard kind == .number else { throw TapeMismatch() }
            guard let value = tape.integer(at: index) else { throw document.refuse() }
            return try cast(value, in: document)
        }
        if type == Bool.self {
            switch kind {
            case .true: return try cast(true, in: document)
            case .false: return try cast(false, in: document)
            default: throw TapeMismatch()
            }
        }
        if type == [String: String].self {
            return try cast(try stringMap(at: index, in: document), in: document)
        }
        if type == JSONValue.self {
            guard let value = tape.value(at: index) else { throw document.refuse() }
            return try cast(value, in: document)
        }
        if type == Double.self {
            guard kind == .number else { throw TapeMismatch() }
            guard let value = tape.double(at: index) else { throw document.refuse() }
            return try cast(value, in: document)
        }
        if type is any FixedWidthInteger.Type || type is any BinaryFloatingPoint.Type {
            throw document.refuse()
        }
        if document.typed, let value = TypedDecoding.decode(type, tape: index, in: JSONTapeReader(tape: tape)) {
            return value
        }
        if let array = type as? any TapeDecodedArray.Type {
            return try cast(try array.decodeTape(at: index, in: document), in: document)
        }
        return try T(from: TapeValueDecoder(index: index, document: document))
    }

    /// `value` as `T` (which the caller has checked it is). Generic, not `Any`: specialised, the
    /// cast folds away instead of boxing every string.
    private static func cast<Value, T>(_ value: Value, in document: TapeDocument) throws -> T {
        guard let value = value as? T else { throw document.refuse() }
        return value
    }

    /// Labels, selectors and annotations: built directly, refusing repeated keys.
    private static func stringMap(at index: Int, in document: TapeDocument) throws -> [String: String] {
        let tape = document.tape
        let token = tape.tokens[index]
        guard token.kind == .object else { throw TapeMismatch() }
        var map: [String: String] = [:]
        map.reserveCapacity(Int(token.count))
        var child = index + 1
        for _ in 0..<token.count {
            guard tape.tokens[child + 1].kind == .string else { throw TapeMismatch() }
            guard map.updateValue(tape.string(at: child + 1), forKey: tape.string(at: child)) == nil else {
                throw document.refuse()
            }
            child = tape.skip(child + 1)
        }
        return map
    }
}

/// The `Decoder` for the value at one tape index. `codingPath` is always empty: errors of this
/// path are never shown (`JSONDecoder` decodes again for the message), and building paths was
/// an allocation per field.
private struct TapeValueDecoder: Decoder {
    let index: Int
    let document: TapeDocument
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard document.tape.tokens[index].kind == .object else { throw TapeMismatch() }
        return KeyedDecodingContainer(TapeKeyedContainer(object: index, document: document))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let token = document.tape.tokens[index]
        guard token.kind == .array else { throw TapeMismatch() }
        return TapeUnkeyedContainer(next: index + 1, count: Int(token.count), document: document)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        TapeSingleValue(index: index, document: document)
    }
}

private struct TapeSingleValue: SingleValueDecodingContainer {
    let index: Int
    let document: TapeDocument
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool {
        document.tape.tokens[index].kind == .null
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try TapeDecoding.decode(type, at: index, in: document)
    }
}

/// Members are found by a linear scan comparing key bytes: API objects have a handful of keys
/// per level, and the scan allocates nothing. A key present twice is a refusal (which one
/// `JSONDecoder` keeps is its business).
private struct TapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: Int
    let document: TapeDocument
    var codingPath: [any CodingKey] { [] }

    var allKeys: [Key] {
        let tape = document.tape
        var keys: [Key] = []
        var child = object + 1
        for _ in 0..<tape.tokens[object].count {
            if let key = Key(stringValue: tape.string(at: child)) { keys.append(key) }
            child = tape.skip(child + 1)
        }
        return keys
    }

    func contains(_ key: Key) -> Bool {
        (try? member(key)) != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let index = try member(key) else { throw TapeMismatch() }
        return document.tape.tokens[index].kind == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let index = try member(key) else { throw TapeMismatch() }
        return try TapeDecoding.decode(type, at: index, in: document)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let index = try member(key), document.tape.tokens[index].kind != .null else { return nil }
        return try TapeDecoding.decode(type, at: index, in: document)
    }

    // The scalar overloads: their default implementations would scan the members three times
    // (`contains`, `decodeNil`, `decode`).

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try decodeIfPresent(type, generic: key)
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try decodeIfPresent(type, generic: key)
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try decodeIfPresent(type, generic: key)
    }

    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try decodeIfPresent(type, generic: key)
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try decode(type, generic: key)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try decode(type, generic: key)
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try decode(type, generic: key)
    }

    private func decodeIfPresent<T: Decodable>(_ type: T.Type, generic key: Key) throws -> T? {
        guard let index = try member(key), document.tape.tokens[index].kind != .null else { return nil }
        return try TapeDecoding.decode(type, at: index, in: document)
    }

    private func decode<T: Decodable>(_ type: T.Type, generic key: Key) throws -> T {
        guard let index = try member(key) else { throw TapeMismatch() }
        return try TapeDecoding.decode(type, at: index, in: document)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        guard let index = try member(key) else { throw TapeMismatch() }
        return try TapeValueDecoder(index: index, document: document).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        guard let index = try member(key) else { throw TapeMismatch() }
        return try TapeValueDecoder(index: index, document: document).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        throw document.refuse()
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        throw document.refuse()
    }

    /// The tape index of `key`'s value, `nil` when absent.
    private func member(_ key: Key) throws -> Int? {
        let tape = document.tape
        let name = key.stringValue
        var found: Int?
        var child = object + 1
        for _ in 0..<tape.tokens[object].count {
            if tape.keyEquals(child, name) {
                guard found == nil else { throw document.refuse() }
                found = child + 1
            }
            child = tape.skip(child + 1)
        }
        return found
    }
}

private struct TapeUnkeyedContainer: UnkeyedDecodingContainer {
    /// Tape index of the next element.
    var next: Int
    let total: Int
    let document: TapeDocument
    var currentIndex = 0
    var codingPath: [any CodingKey] { [] }

    init(next: Int, count: Int, document: TapeDocument) {
        self.next = next
        self.total = count
        self.document = document
    }

    var count: Int? { total }
    var isAtEnd: Bool { currentIndex >= total }

    mutating func decodeNil() throws -> Bool {
        try checkNotAtEnd()
        guard document.tape.tokens[next].kind == .null else { return false }
        advance()
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try checkNotAtEnd()
        let value = try TapeDecoding.decode(type, at: next, in: document)
        advance()
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try checkNotAtEnd()
        let container = try TapeValueDecoder(index: next, document: document).container(keyedBy: type)
        advance()
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try checkNotAtEnd()
        let container = try TapeValueDecoder(index: next, document: document).unkeyedContainer()
        advance()
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        throw document.refuse()
    }

    private func checkNotAtEnd() throws {
        guard !isAtEnd else { throw TapeMismatch() }
    }

    private mutating func advance() {
        next = document.tape.skip(next)
        currentIndex += 1
    }
}
