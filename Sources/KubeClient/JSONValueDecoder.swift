import KubeAPI

/// Decodes a `Decodable` type straight from a ``JSONValue`` tree, instead of encoding the tree
/// to JSON text and parsing that again with `JSONDecoder` (a fifth of the start-up time at 10k
/// manifest objects).
///
/// It is the fast path only: it accepts exactly what `JSONDecoder` accepts for our API types
/// or less (an integer field given `80.0`, for instance, is refused here), and its errors are
/// not meant for users. A caller that gets an error decodes again with `JSONDecoder`, which
/// either succeeds or produces the usual error with its field path and wording.
///
/// A type with a hand-written decoder (``TypedDecodable``: `Service`, `EndpointSlice`) is
/// decoded by it first; when that gives up, the `Codable` path below decodes the same value.
struct JSONValueDecoder {
    /// Decodes `type` from `value`.
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        if let typed = TypedDecoding.decode(type, tree: value) { return typed }
        return try decodeCodable(type, from: value)
    }

    /// Decodes `type` from `value` through `Codable` only, the reference the typed decoders are
    /// held to (tests and the `typed-decode` fuzz target compare the two).
    static func decodeCodable<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: []))
    }
}

/// The refusal of the fast path; the caller falls back to `JSONDecoder` for the real error.
private struct Unsupported: Error {
    var codingPath: [any CodingKey]
    var expected: Any.Type
}

/// An array index as a coding key, spelled like `JSONDecoder`'s (`Index 3`).
private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(intValue: Int) {
        self.intValue = intValue
    }

    init?(stringValue: String) {
        nil
    }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw Unsupported(codingPath: codingPath, expected: [String: Any].self)
        }
        return KeyedDecodingContainer(KeyedValues(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw Unsupported(codingPath: codingPath, expected: [Any].self)
        }
        return UnkeyedValues(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValue(value: value, codingPath: codingPath)
    }
}

/// The scalar conversions `JSONDecoder` performs, minus the ones it performs through text
/// (an integral `Double` as an `Int`), which are left to it.
private enum Scalars {
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, codingPath: [any CodingKey]) throws -> T {
        switch value {
        case .string(let text) where type == String.self:
            if let text = text as? T { return text }
        case .bool(let flag) where type == Bool.self:
            if let flag = flag as? T { return flag }
        case .int(let number) where type == Int.self:
            if let number = number as? T { return number }
        case .int(let number) where type == Double.self:
            if let number = Double(exactly: number) as? T { return number }
        case .double(let number) where type == Double.self:
            if let number = number as? T { return number }
        default:
            if type == String.self || type == Bool.self || type == Int.self || type == Double.self {
                break
            }
            if type == JSONValue.self, let value = value as? T { return value }
            if case .array(let elements) = value, let array = type as? any ExactlyDecodedArray.Type,
                let decoded = try array.decode(elements, codingPath: codingPath) as? T
            {
                return decoded
            }
            return try T(from: ValueDecoder(value: value, codingPath: codingPath))
        }
        throw Unsupported(codingPath: codingPath, expected: type)
    }
}

/// Arrays decoded with their exact capacity: `Array.init(from:)` appends one element at a time,
/// so a slice's ten endpoints (a few hundred bytes each) sat in room for sixteen.
private protocol ExactlyDecodedArray {
    static func decode(_ elements: [JSONValue], codingPath: [any CodingKey]) throws -> Self
}

extension Array: ExactlyDecodedArray where Element: Decodable {
    fileprivate static func decode(_ elements: [JSONValue], codingPath: [any CodingKey]) throws -> Self {
        var array: [Element] = []
        array.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            array.append(try Scalars.decode(Element.self, from: element, codingPath: codingPath + [IndexKey(intValue: index)]))
        }
        return array
    }
}

private struct SingleValue: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        value == .null
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try Scalars.decode(type, from: value, codingPath: codingPath)
    }
}

private struct KeyedValues<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool {
        members[key.stringValue] != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try member(key) == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try Scalars.decode(type, from: try member(key), codingPath: codingPath + [key])
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = members[key.stringValue], value != .null else { return nil }
        return try Scalars.decode(type, from: value, codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(value: try member(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: try member(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        throw Unsupported(codingPath: codingPath, expected: Any.self)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(value: try member(key), codingPath: codingPath + [key])
    }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw Unsupported(codingPath: codingPath + [key], expected: Any.self)
        }
        return value
    }
}

private struct UnkeyedValues: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func decodeNil() throws -> Bool {
        guard try next() == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try Scalars.decode(type, from: try next(), codingPath: elementPath)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try ValueDecoder(value: try next(), codingPath: elementPath).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try ValueDecoder(value: try next(), codingPath: elementPath).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = ValueDecoder(value: try next(), codingPath: elementPath)
        currentIndex += 1
        return decoder
    }

    private var elementPath: [any CodingKey] { codingPath + [IndexKey(intValue: currentIndex)] }

    private func next() throws -> JSONValue {
        guard currentIndex < elements.count else {
            throw Unsupported(codingPath: elementPath, expected: Any.self)
        }
        return elements[currentIndex]
    }
}
