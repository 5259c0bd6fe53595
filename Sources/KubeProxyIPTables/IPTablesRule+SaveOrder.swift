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

    /// Whether `other`'s arguments are exactly this rule's in iptables-save's order: the same
    /// answer as `saveOrdered.hasSameArguments(as: other)`, without building and packing the
    /// reordered rule (adoption asks this for each of a 10k-Service table's 420k rules).
    func saveOrderMatches(_ other: IPTablesRule) -> Bool {
        let words = saveOrderedWords()
        var index = 0
        var same = true
        other.forEachArgument { argument in
            guard same else { return }
            if index < words.count && words[index] == argument {
                index += 1
            } else {
                same = false
            }
        }
        return same && index == words.count
    }

    /// The arguments in iptables-save's order, as slices of the packed text: only a bare
    /// `-s`/`-d` address (which gets its prefix length) is a new string.
    func saveOrderedWords() -> [Substring] {
        var arguments: [Substring] = []
        forEachArgument { arguments.append($0) }
        // The generic options by their place in `-s -d -i -o -p -f` (the last one given wins).
        var generic: [[Substring]] = Array(repeating: [], count: 6)
        var rest: [Substring] = []
        rest.reserveCapacity(arguments.count)
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let negated = arguments[index] == "!" && index + 1 < arguments.endIndex
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
                index = end
            } else {
                rest.append(arguments[index])
                index += 1
            }
        }
        if generic.allSatisfy(\.isEmpty) { return rest }
        return generic.flatMap { $0 } + rest
    }

    /// The short spelling of a generic match option and its place in iptables-save's order.
    private static func genericSlot(_ word: Substring) -> (Substring, Int)? {
        switch word {
        case "-s", "--source", "--src": return ("-s", 0)
        case "-d", "--destination", "--dst": return ("-d", 1)
        case "-i", "--in-interface": return ("-i", 2)
        case "-o", "--out-interface": return ("-o", 3)
        case "-p", "--protocol": return ("-p", 4)
        case "-f", "--fragment": return ("-f", 5)
        default: return nil
        }
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
