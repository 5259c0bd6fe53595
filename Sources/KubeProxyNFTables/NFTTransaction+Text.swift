extension NFTTransaction {
    /// The `nft -f -` input in `textForm`: one operation per line, each naming the family and
    /// table, or grouped into chain and set blocks.
    public var text: String {
        var out = ""
        out.reserveCapacity(operations.count * 96)
        writeText(chunkBytes: .max) { out += $0 }
        return out
    }

    /// The same text as `text`, handed to `emit` in pieces of whole lines of about `chunkBytes`
    /// bytes: a full sync of 10,000 Services is ≈ 60 MB of text, which need not exist at once.
    public func writeText(chunkBytes: Int = 1 << 16, _ emit: (String) throws -> Void) rethrows {
        var chunk = ""
        func endLine() throws {
            chunk += "\n"
            if chunk.utf8.count >= chunkBytes {
                try emit(chunk)
                chunk = ""
            }
        }
        func add(_ line: String) throws {
            chunk += line
            try endLine()
        }
        if case .grouped(let declarations) = textForm, let lines = groupedLines(declarations) {
            for line in lines { try add(line) }
        } else {
            // A chain group's rules are spelled from their packed text, piece by piece, the
            // same as `line(for: .addRule(…))`: a full sync writes 310,000 rules at 10,000 Services.
            let target = "\(family) \(table)"
            try forEachPiece(
                operation: { try add(line(for: $0)) },
                chains: { group in
                    try group.forEachChain { try add(line(for: .addChain($0.chain))) }
                    try group.forEachChain { chain in
                        try add(line(for: .flushChain(chain.name)))
                        try chain.forEachRuleText { name, body, comment in
                            chunk += "add rule "
                            chunk += target
                            chunk += " "
                            chunk += name
                            chunk += " "
                            body.append(to: &chunk)
                            if let comment {
                                chunk += " comment "
                                chunk += NFTText.quoted(String(comment))
                            }
                            try endLine()
                        }
                    }
                })
        }
        if !chunk.isEmpty { try emit(chunk) }
    }

    /// The `.grouped` spelling (see `NFTTextForm`), or `nil` when a set some rule refers to has
    /// no declaration: nft would not find it, so the caller falls back to lines.
    func groupedLines(_ declarations: [String: NFTSet]) -> [String]? {
        var lines: [String] = []
        var redeclared: Set<String> = []
        let operations = operations
        for case .addRule(let rule) in operations {
            for name in NFTText.setReferences(in: rule.body) where redeclared.insert(name).inserted {
                guard let set = declarations[name] else { return nil }
                lines.append(line(for: .addSet(set)))
            }
        }
        let target = "\(family) \(table)"
        var index = operations.startIndex
        while index < operations.endIndex {
            switch operations[index] {
            case .addRule(let first):
                var rules: [String] = []
                while index < operations.endIndex, case .addRule(let rule) = operations[index], rule.chain == first.chain {
                    rules.append(NFTText.rule(rule))
                    index += 1
                }
                lines.append("add chain \(target) \(first.chain)" + NFTText.block(rules))
            case .addElement(let first):
                guard let set = declarations[first.set] else {
                    lines.append(line(for: .addElement(first)))
                    index += 1
                    continue
                }
                var elements: [String] = []
                while index < operations.endIndex, case .addElement(let element) = operations[index], element.set == first.set {
                    elements.append(NFTText.element(element, withValue: true))
                    index += 1
                }
                let items = NFTText.setItems(set) + ["elements = { " + elements.joined(separator: ", ") + " }"]
                lines.append("add \(set.kind) \(target) \(set.name)" + NFTText.block(items))
            case let operation:
                lines.append(line(for: operation))
                index += 1
            }
        }
        return lines
    }

    /// The input line of one operation.
    public func line(for operation: NFTOperation) -> String {
        let target = "\(family) \(table)"
        switch operation {
        case .addTable(let comment):
            return comment.map { "add table \(target) { comment \(NFTText.quoted($0)) ; }" } ?? "add table \(target)"
        case .deleteTable:
            return "delete table \(target)"
        case .addChain(let chain):
            var items: [String] = []
            if let base = chain.base { items.append("type \(base.type) hook \(base.hook) priority \(base.priority)") }
            if let comment = chain.comment { items.append("comment \(NFTText.quoted(comment))") }
            return "add chain \(target) \(chain.name)" + NFTText.block(items)
        case .flushChain(let name):
            return "flush chain \(target) \(name)"
        case .deleteChain(let name):
            return "delete chain \(target) \(name)"
        case .addSet(let set):
            return "add \(set.kind) \(target) \(set.name)" + NFTText.block(NFTText.setItems(set))
        case .flushSet(let name, let kind):
            return "flush \(kind) \(target) \(name)"
        case .deleteSet(let name, let kind):
            return "delete \(kind) \(target) \(name)"
        case .addRule(let rule):
            return "add rule \(target) \(rule.chain) " + NFTText.rule(rule)
        case .addElement(let element):
            return "add element \(target) \(element.set) { \(NFTText.element(element, withValue: true)) }"
        case .deleteElement(let element):
            return "delete element \(target) \(element.set) { \(NFTText.element(element, withValue: false)) }"
        }
    }
}

/// Small helpers for nft syntax.
enum NFTText {
    /// A double-quoted nft string. nft has no escape for `"`, so one is dropped (our comments are
    /// Kubernetes names, which cannot contain it).
    static func quoted(_ text: String) -> String {
        "\"" + text.filter { $0 != "\"" && $0 != "\n" } + "\""
    }

    /// ` { a ; b ; }`, or nothing for no items.
    static func block(_ items: [String]) -> String {
        items.isEmpty ? "" : " { " + items.map { $0 + " ; " }.joined() + "}"
    }

    /// The declaration items of a set: type, flags, timeout, comment.
    static func setItems(_ set: NFTSet) -> [String] {
        var items = ["type " + set.keyType.joined(separator: " . ") + (set.valueType.map { " : \($0)" } ?? "")]
        if !set.flags.isEmpty { items.append("flags " + set.flags.joined(separator: ",")) }
        if let timeout = set.timeoutSeconds { items.append("timeout \(timeout)s") }
        if let comment = set.comment { items.append("comment \(quoted(comment))") }
        return items
    }

    /// `body [comment "c"]`, as in `add rule` and in a chain block.
    static func rule(_ rule: NFTRule) -> String {
        rule.body + (rule.comment.map { " comment \(quoted($0))" } ?? "")
    }

    /// The named sets a rule body refers to (`@name`), in order of appearance.
    static func setReferences(in body: String) -> [String] {
        var names: [String] = []
        var rest = Substring(body)
        while let at = rest.firstIndex(of: "@") {
            rest = rest[rest.index(after: at)...]
            let end = rest.firstIndex { $0 == " " || $0 == "\t" || $0 == "," || $0 == "}" } ?? rest.endIndex
            if end > rest.startIndex { names.append(String(rest[..<end])) }
            rest = rest[end...]
        }
        return names
    }

    /// `key [comment "c"] [: value]`.
    static func element(_ element: NFTElement, withValue: Bool) -> String {
        var text = element.keyText
        if withValue {
            if let comment = element.comment { text += " comment \(quoted(comment))" }
            if let value = element.value { text += " : \(value)" }
        }
        return text
    }
}
