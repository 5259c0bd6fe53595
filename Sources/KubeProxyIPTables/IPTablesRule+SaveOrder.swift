extension IPTablesRule {
    /// The rule with its arguments in the order `iptables-save` prints them.
    ///
    /// iptables keeps a rule as a structure, not as text, and prints the generic matches first:
    /// `-s`, `-d`, `-i`, `-o`, `-p`, `-f` (each with a preceding `!` if negated), then the `-m`
    /// matches in the order they were given, then the target. A bare host address gets its
    /// `/32` or `/128`. So `-m comment --comment x -p tcp -m tcp --dport 80 -d 10.0.0.1 -j ACCEPT`
    /// comes back as `-d 10.0.0.1/32 -p tcp -m comment --comment x -m tcp --dport 80 -j ACCEPT`.
    ///
    /// Why it exists: a fake applier stores and prints rules like this, so tests of the parser
    /// and of `PortalRule` see the kernel's spelling, and `-D` by specification can match a
    /// rule regardless of how its arguments were ordered when it was added.
    public var saveOrdered: IPTablesRule { IPTablesRule(chain: chain, arguments: saveOrderedArguments) }

    /// `saveOrdered.arguments`, without packing them into a rule and splitting them again (a
    /// full sync over 330k existing rules compares them all).
    var saveOrderedArguments: [String] { saveOrderedWords().map(String.init) }

    /// The arguments in iptables-save's order, as slices of the packed text: only a bare
    /// `-s`/`-d` address (which gets its prefix length) is a new string.
    func saveOrderedWords() -> [Substring] {
        var arguments: [Substring] = []
        forEachArgument { arguments.append($0) }
        // The generic options by their place in `-s -d -i -o -p -f` (the last one given wins).
        var generic: [[Substring]] = Array(repeating: [], count: 6)
        var anyGeneric = false
        var rest: [Substring] = []
        rest.reserveCapacity(arguments.count)
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let negated = Self.isBang(arguments[index]) && index + 1 < arguments.endIndex
            let optionIndex = negated ? index + 1 : index
            if let (option, slot) = Self.genericSlot(arguments[optionIndex]) {
                let takesValue = option != "-f"
                let end = min(arguments.endIndex, optionIndex + (takesValue ? 2 : 1))
                var words: [Substring] = negated ? ["!", option] : [option]
                if takesValue && optionIndex + 1 < arguments.endIndex {
                    let value = arguments[optionIndex + 1]
                    words.append(option == "-s" || option == "-d" ? Self.withPrefixLength(value) : value)
                }
                generic[slot] = words
                anyGeneric = true
                index = end
            } else {
                rest.append(arguments[index])
                index += 1
            }
        }
        if !anyGeneric { return rest }
        return generic.flatMap { $0 } + rest
    }

    /// The short spelling of a generic match option and its place in iptables-save's order.
    private static func genericSlot(_ word: Substring) -> (Substring, Int)? {
        // Only a short word starting with `-` can be one; as a `String` of at most 15 bytes it
        // is stored inline and compared as such (a `Substring` switch compares each case
        // through the general string comparison, the hot spot of a 10k restart's adoption).
        guard word.utf8.count <= 15, word.utf8.first == UInt8(ascii: "-") else { return nil }
        switch String(word) {
        case "-s", "--source", "--src": return ("-s", 0)
        case "-d", "--destination", "--dst": return ("-d", 1)
        case "-i", "--in-interface": return ("-i", 2)
        case "-o", "--out-interface": return ("-o", 3)
        case "-p", "--protocol": return ("-p", 4)
        case "-f", "--fragment": return ("-f", 5)
        default: return nil
        }
    }

    /// Whether `word` is `!`, compared as a byte.
    private static func isBang(_ word: Substring) -> Bool {
        word.utf8.count == 1 && word.utf8.first == UInt8(ascii: "!")
    }

    /// `withPrefixLength` for a slice: the slice itself when it already has a prefix length.
    private static func withPrefixLength(_ address: Substring) -> Substring {
        if address.utf8.contains(UInt8(ascii: "/")) { return address }
        return Substring(withPrefixLength(String(address)))
    }

    /// `a.b.c.d` → `a.b.c.d/32`, `v6` → `v6/128`; anything already prefixed is unchanged.
    static func withPrefixLength(_ address: String) -> String {
        if address.contains("/") { return address }
        return address.contains(":") ? address + "/128" : address + "/32"
    }
}
