extension NFTTransaction {
    /// The `nft -f -` input: one operation per line, each naming the family and table.
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
        for operation in operations {
            chunk += line(for: operation)
            chunk += "\n"
            if chunk.utf8.count >= chunkBytes {
                try emit(chunk)
                chunk = ""
            }
        }
        if !chunk.isEmpty { try emit(chunk) }
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
