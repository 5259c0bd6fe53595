extension NFTTransaction {
    /// The `nft -f -` input: one operation per line, each naming the family and table.
    public var text: String {
        var out = ""
        out.reserveCapacity(operations.count * 96)
        for operation in operations {
            out += line(for: operation)
            out += "\n"
        }
        return out
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
            var items = ["type " + set.keyType.joined(separator: " . ") + (set.valueType.map { " : \($0)" } ?? "")]
            if !set.flags.isEmpty { items.append("flags " + set.flags.joined(separator: ",")) }
            if let timeout = set.timeoutSeconds { items.append("timeout \(timeout)s") }
            if let comment = set.comment { items.append("comment \(NFTText.quoted(comment))") }
            return "add \(set.kind) \(target) \(set.name)" + NFTText.block(items)
        case .flushSet(let name, let kind):
            return "flush \(kind) \(target) \(name)"
        case .deleteSet(let name, let kind):
            return "delete \(kind) \(target) \(name)"
        case .addRule(let rule):
            return "add rule \(target) \(rule.chain) \(rule.body)" + (rule.comment.map { " comment \(NFTText.quoted($0))" } ?? "")
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
