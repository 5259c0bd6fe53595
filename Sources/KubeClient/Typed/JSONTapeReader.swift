import KubeAPI

/// An API response's ``JSONTape`` for the typed decoders; values are tape indices. It accepts
/// what `JSONTapeDecoder`'s `Codable` path accepts without refusing, or less: integers only
/// without fraction or exponent and within `Int`, a field or label key present once.
struct JSONTapeReader: TypedJSONReader {
    /// The parsed document.
    let tape: JSONTape

    /// A reader of `tape`.
    init(tape: JSONTape) {
        self.tape = tape
    }

    /// Whether the value is `null`.
    func isNull(_ value: Int) -> Bool {
        tape.tokens[value].kind == .null
    }

    /// A string, or give up.
    func string(_ value: Int) throws(TypedDecodingGiveUp) -> String {
        guard tape.tokens[value].kind == .string else { throw TypedDecodingGiveUp() }
        return tape.string(at: value)
    }

    /// An integer that fits `Int`, or give up.
    func int(_ value: Int) throws(TypedDecodingGiveUp) -> Int {
        // `integer(at:)` is `nil` for anything but a plain integer literal that fits.
        guard let number = tape.integer(at: value) else { throw TypedDecodingGiveUp() }
        return number
    }

    /// `true` or `false`, or give up.
    func bool(_ value: Int) throws(TypedDecodingGiveUp) -> Bool {
        switch tape.tokens[value].kind {
        case .true: return true
        case .false: return false
        default: throw TypedDecodingGiveUp()
        }
    }

    /// An integer or a string, or give up.
    func intOrString(_ value: Int) throws(TypedDecodingGiveUp) -> IntOrString {
        switch tape.tokens[value].kind {
        case .number: return .int(try int(value))
        case .string: return .string(tape.string(at: value))
        default: throw TypedDecodingGiveUp()
        }
    }

    /// An object of strings, or give up.
    func stringMap(_ value: Int) throws(TypedDecodingGiveUp) -> [String: String] {
        let token = tape.tokens[value]
        guard token.kind == .object else { throw TypedDecodingGiveUp() }
        var map: [String: String] = [:]
        map.reserveCapacity(Int(token.count))
        var child = value + 1
        for _ in 0..<token.count {
            guard tape.tokens[child + 1].kind == .string,
                map.updateValue(tape.string(at: child + 1), forKey: tape.string(at: child)) == nil
            else { throw TypedDecodingGiveUp() }
            child = tape.skip(child + 1)
        }
        return map
    }

    /// An array decoded element by element at its exact size, or give up.
    func array<Element>(
        _ value: Int, _ element: (Int) throws(TypedDecodingGiveUp) -> Element
    ) throws(TypedDecodingGiveUp) -> [Element] {
        let token = tape.tokens[value]
        guard token.kind == .array else { throw TypedDecodingGiveUp() }
        var array: [Element] = []
        array.reserveCapacity(Int(token.count))
        var child = value + 1
        for _ in 0..<token.count {
            array.append(try element(child))
            child = tape.skip(child)
        }
        return array
    }

    /// The members whose keys are in `table`, in order, or give up.
    func members<Field>(
        _ value: Int, _ table: FieldTable<Field>, _ body: (Field, Int) throws(TypedDecodingGiveUp) -> Void
    ) throws(TypedDecodingGiveUp) {
        let token = tape.tokens[value]
        guard token.kind == .object else { throw TypedDecodingGiveUp() }
        var seen = SeenFields()
        var child = value + 1
        for _ in 0..<token.count {
            if let index = fieldIndex(key: child, table) {
                try seen.insert(index)
                try body(table.field(at: index), child + 1)
            }
            child = tape.skip(child + 1)
        }
    }

    /// The field the key token at `key` names: its bytes straight from the text, or the string
    /// with its escapes resolved.
    private func fieldIndex<Field>(key: Int, _ table: FieldTable<Field>) -> Int? {
        let token = tape.tokens[key]
        if token.flag { return table.index(of: tape.string(at: key)) }
        return tape.bytes.withUnsafeBufferPointer { bytes in
            table.index(of: UnsafeBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)]))
        }
    }
}
