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
    var saveOrderedArguments: [String] {
        let arguments = self.arguments
        let genericOrder = ["-s", "-d", "-i", "-o", "-p", "-f"]
        var generic: [String: [String]] = [:]
        var rest: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let negated = arguments[index] == "!" && index + 1 < arguments.endIndex
            let optionIndex = negated ? index + 1 : index
            if let option = Self.genericOption(arguments[optionIndex]) {
                let takesValue = option != "-f"
                let end = min(arguments.endIndex, optionIndex + (takesValue ? 2 : 1))
                var words = negated ? ["!", option] : [option]
                if takesValue && optionIndex + 1 < arguments.endIndex {
                    let value = arguments[optionIndex + 1]
                    words.append(option == "-s" || option == "-d" ? Self.withPrefixLength(value) : value)
                }
                generic[option] = words
                index = end
            } else {
                rest.append(arguments[index])
                index += 1
            }
        }
        let front = genericOrder.flatMap { generic[$0] ?? [] }
        return front + rest
    }

    /// The short spelling of a generic match option, `nil` for anything else.
    static func genericOption(_ word: String) -> String? {
        switch word {
        case "-s", "--source", "--src": return "-s"
        case "-d", "--destination", "--dst": return "-d"
        case "-i", "--in-interface": return "-i"
        case "-o", "--out-interface": return "-o"
        case "-p", "--protocol": return "-p"
        case "-f", "--fragment": return "-f"
        default: return nil
        }
    }

    /// `a.b.c.d` → `a.b.c.d/32`, `v6` → `v6/128`; anything already prefixed is unchanged.
    static func withPrefixLength(_ address: String) -> String {
        if address.contains("/") { return address }
        return address.contains(":") ? address + "/128" : address + "/32"
    }
}
