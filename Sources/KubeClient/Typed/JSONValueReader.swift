import KubeAPI

/// A manifest document's ``JSONValue`` tree for the typed decoders. It accepts what
/// `JSONValueDecoder`'s `Codable` path accepts without refusing, or less: an integer field must
/// be `.int` (a `.double`, even `80.0`, gives up, as `JSONValueDecoder` leaves it to
/// `JSONDecoder`). Keys cannot repeat in a tree (the YAML reader rejects repeated keys).
struct JSONValueReader: TypedJSONReader {
    /// Creates a reader (it holds nothing: the values carry the tree).
    init() {}

    /// Whether the value is `null`.
    func isNull(_ value: JSONValue) -> Bool {
        if case .null = value { return true }
        return false
    }

    /// A string, or give up.
    func string(_ value: JSONValue) throws(TypedDecodingGiveUp) -> String {
        guard case .string(let text) = value else { throw TypedDecodingGiveUp() }
        return text
    }

    /// An integer that fits `Int`, or give up.
    func int(_ value: JSONValue) throws(TypedDecodingGiveUp) -> Int {
        guard case .int(let number) = value else { throw TypedDecodingGiveUp() }
        return number
    }

    /// `true` or `false`, or give up.
    func bool(_ value: JSONValue) throws(TypedDecodingGiveUp) -> Bool {
        guard case .bool(let flag) = value else { throw TypedDecodingGiveUp() }
        return flag
    }

    /// An integer or a string, or give up.
    func intOrString(_ value: JSONValue) throws(TypedDecodingGiveUp) -> IntOrString {
        switch value {
        case .int(let number): return .int(number)
        case .string(let text): return .string(text)
        default: throw TypedDecodingGiveUp()
        }
    }

    /// An object of strings, or give up.
    func stringMap(_ value: JSONValue) throws(TypedDecodingGiveUp) -> [String: String] {
        guard case .object(let members) = value else { throw TypedDecodingGiveUp() }
        // `mapValues` keeps the dictionary's layout: no key is hashed again.
        var allStrings = true
        let map = members.mapValues { member -> String in
            guard case .string(let text) = member else {
                allStrings = false
                return ""
            }
            return text
        }
        guard allStrings else { throw TypedDecodingGiveUp() }
        return map
    }

    /// An array decoded element by element at its exact size, or give up.
    func array<Element>(
        _ value: JSONValue, _ element: (JSONValue) throws(TypedDecodingGiveUp) -> Element
    ) throws(TypedDecodingGiveUp) -> [Element] {
        guard case .array(let elements) = value else { throw TypedDecodingGiveUp() }
        var array: [Element] = []
        array.reserveCapacity(elements.count)
        for item in elements { array.append(try element(item)) }
        return array
    }

    /// The members whose keys are in `table`, in order, or give up.
    func members<Field>(
        _ value: JSONValue, _ table: FieldTable<Field>, _ body: (Field, JSONValue) throws(TypedDecodingGiveUp) -> Void
    ) throws(TypedDecodingGiveUp) {
        guard case .object(let members) = value else { throw TypedDecodingGiveUp() }
        for (key, member) in members {
            guard let index = table.index(of: key) else { continue }
            try body(table.field(at: index), member)
        }
    }
}
