/// Why `nft -f` text could not be read back into a transaction.
public struct NFTParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line number.
    public var line: Int
    /// The offending line (at most 200 characters of it).
    public var text: String
    /// What is wrong with it.
    public var message: String

    /// Creates an error, shortening the quoted line.
    public init(line: Int, text: String, message: String) {
        self.line = line
        self.text = String(text.prefix(200))
        self.message = message
    }

    public var description: String { "line \(line): \(message): \(text)" }
}

extension NFTTransaction {
    /// Reads back text in either form `text` writes (blank lines and `#` comments ignored), for
    /// the fake and for golden fixtures written in upstream's notation. A grouped chain block
    /// reads as its rules and a set block with elements as the declaration and its elements, so
    /// grouped text reads back as what nft executes (re-declarations included), not as the
    /// planned operations.
    ///
    /// Every line must name `family` and `table`: the fake, like nft, refuses a stray table.
    public init(parsing input: String, family: NFTFamily, table: String = NFTTransaction.defaultTable) throws(NFTParseError) {
        self.init(family: family, table: table)
        for (index, raw) in input.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                append(contentsOf: try Self.parseLine(line, family: family, table: table))
            } catch let message {
                throw NFTParseError(line: index + 1, text: String(line), message: message.text)
            }
        }
    }

    /// What is wrong with one line (wrapped into `NFTParseError` with the line number).
    struct LineProblem: Error { var text: String }

    /// One line into its operations (one, except for grouped blocks).
    static func parseLine(_ line: Substring, family: NFTFamily, table: String) throws(LineProblem) -> [NFTOperation] {
        var rest = line
        let verb = rest.takeWord()
        let object = rest.takeWord()
        let lineFamily = rest.takeWord()
        let lineTable = rest.takeWord()
        guard lineFamily == family.rawValue, lineTable == table else {
            throw LineProblem(text: "expected table \(family) \(table), found \(lineFamily) \(lineTable)")
        }
        switch (verb, object) {
        case ("add", "table"):
            let items = try block(rest)
            return [.addTable(comment: items.first { $0.hasPrefix("comment ") }.map { unquote($0.dropFirst(8)) })]
        case ("delete", "table"):
            return [.deleteTable]
        case ("add", "chain"):
            let name = String(rest.takeWord())
            var chain = NFTChain(name: name)
            let items = try block(rest)
            let isProperty = { (item: String) in item.hasPrefix("comment ") || item.hasPrefix("type ") }
            if !items.isEmpty && !items.contains(where: isProperty) {
                return try items.map { (item) throws(LineProblem) in .addRule(try rule(chain: name, Substring(item))) }
            }
            for item in items {
                var words = Substring(item)
                let key = words.takeWord()
                if key == "comment" {
                    chain.comment = unquote(words)
                } else if key == "type" {
                    let type = words.takeWord()
                    guard words.takeWord() == "hook" else { throw LineProblem(text: "expected hook") }
                    let hook = words.takeWord()
                    guard words.takeWord() == "priority", let priority = Int(words.takeWord()) else {
                        throw LineProblem(text: "expected a numeric priority")
                    }
                    chain.base = NFTBaseChain(type: String(type), hook: String(hook), priority: priority)
                } else {
                    throw LineProblem(text: "unknown chain property \(key)")
                }
            }
            return [.addChain(chain)]
        case ("flush", "chain"):
            return [.flushChain(try name(rest))]
        case ("delete", "chain"):
            return [.deleteChain(try name(rest))]
        case ("add", "set"), ("add", "map"):
            let name = String(rest.takeWord())
            var set = NFTSet(name: name, keyType: [])
            var elements: [NFTOperation] = []
            for item in try block(rest) {
                var words = Substring(item)
                switch words.takeWord() {
                case "type":
                    let parts = words.splitOn(" : ")
                    set.keyType = parts[0].splitOn(" . ").map { String($0.trimmingSpaces()) }
                    if parts.count > 1 { set.valueType = String(parts[1].trimmingSpaces()) }
                case "flags": set.flags = words.split(separator: ",").map { String($0.trimmingSpaces()) }
                case "timeout":
                    guard words.hasSuffix("s"), let seconds = Int(words.dropLast()) else { throw LineProblem(text: "bad timeout") }
                    set.timeoutSeconds = seconds
                case "comment": set.comment = unquote(words)
                case "elements":
                    let list = words.trimmingSpaces()
                    guard list.hasPrefix("= {"), list.hasSuffix("}") else { throw LineProblem(text: "expected elements = { … }") }
                    for text in list.dropFirst(3).dropLast().split(separator: ",") {
                        elements.append(.addElement(try element(set: name, Substring(text).trimmingSpaces())))
                    }
                case let other: throw LineProblem(text: "unknown set property \(other)")
                }
            }
            guard !set.keyType.isEmpty else { throw LineProblem(text: "set without type") }
            guard (object == "map") == (set.valueType != nil) else { throw LineProblem(text: "map needs a value type, set must not") }
            return [.addSet(set)] + elements
        case ("flush", "set"), ("flush", "map"):
            return [.flushSet(try name(rest), object == "map" ? .map : .set)]
        case ("delete", "set"), ("delete", "map"):
            return [.deleteSet(try name(rest), object == "map" ? .map : .set)]
        case ("add", "rule"):
            let chain = String(rest.takeWord())
            return [.addRule(try rule(chain: chain, rest))]
        case ("add", "element"), ("delete", "element"):
            let set = String(rest.takeWord())
            guard rest.hasPrefix("{"), rest.hasSuffix("}") else { throw LineProblem(text: "element needs { … }") }
            let element = try element(set: set, rest.dropFirst().dropLast().trimmingSpaces())
            return [verb == "add" ? .addElement(element) : .deleteElement(element)]
        default:
            throw LineProblem(text: "unsupported command \(verb) \(object)")
        }
    }

    /// A rule body with an optional trailing comment.
    private static func rule(chain: String, _ text: Substring) throws(LineProblem) -> NFTRule {
        var body = text.trimmingSpaces()
        var comment: String?
        if body.hasSuffix("\""), let range = body.findRange(of: " comment \"", backwards: true) {
            comment = unquote(body[range.upperBound...].dropLast().prepending("\""))
            body = body[..<range.lowerBound]
        }
        guard !body.isEmpty else { throw LineProblem(text: "empty rule") }
        return NFTRule(chain: chain, String(body), comment: comment)
    }

    /// `key [comment "c"] [: value]`, as between the braces of `add element` or in `elements = { … }`.
    private static func element(set: String, _ text: Substring) throws(LineProblem) -> NFTElement {
        var inner = text
        var value: String?
        if let range = inner.findRange(of: " : ") {
            value = String(inner[range.upperBound...].trimmingSpaces())
            inner = inner[..<range.lowerBound]
        }
        var comment: String?
        if let range = inner.findRange(of: " comment \"") {
            comment = unquote(inner[range.upperBound...].prepending("\""))
            inner = inner[..<range.lowerBound]
        }
        let key = inner.splitOn(" . ").map { String($0.trimmingSpaces()) }
        guard !key.contains(where: \.isEmpty) else { throw LineProblem(text: "empty element key") }
        return NFTElement(set: set, key: key, value: value, comment: comment)
    }

    private static func name(_ rest: Substring) throws(LineProblem) -> String {
        var words = rest
        let name = words.takeWord()
        guard !name.isEmpty, words.isEmpty else { throw LineProblem(text: "expected exactly one name") }
        return String(name)
    }

    /// The `;`-separated items of an optional `{ … }` block.
    private static func block(_ rest: Substring) throws(LineProblem) -> [String] {
        let text = rest.trimmingSpaces()
        if text.isEmpty { return [] }
        guard text.hasPrefix("{"), text.hasSuffix("}") else { throw LineProblem(text: "expected { … }") }
        return text.dropFirst().dropLast().split(separator: ";").map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
    }

    private static func unquote(_ text: some StringProtocol) -> String {
        var s = Substring(text).trimmingSpaces()
        if s.hasPrefix("\"") { s = s.dropFirst() }
        if s.hasSuffix("\"") { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    /// Removes and returns the first space-separated word.
    mutating func takeWord() -> Substring {
        self = self.trimmingSpaces()
        let end = firstIndex(of: " ") ?? endIndex
        let word = self[..<end]
        self = self[end...].trimmingSpaces()
        return word
    }

    /// Without leading and trailing blanks.
    func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" || first == "\r" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s.removeLast() }
        return s
    }

    /// `prefix` followed by this text.
    func prepending(_ prefix: String) -> String { prefix + self }

    /// The parts between occurrences of `separator` (a multi-character separator).
    func splitOn(_ separator: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = self
        while let range = rest.findRange(of: separator) {
            parts.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        parts.append(rest)
        return parts
    }

    /// The first (or last) occurrence of `needle`, without Foundation.
    func findRange(of needle: String, backwards: Bool = false) -> Range<Index>? {
        let n = Array(needle.utf8)
        let hay = Array(utf8)
        guard n.count <= hay.count else { return nil }
        let starts = Array(0...(hay.count - n.count))
        for start in backwards ? starts.reversed() : starts where hay[start..<start + n.count].elementsEqual(n) {
            let lower = utf8.index(utf8.startIndex, offsetBy: start)
            let upper = utf8.index(lower, offsetBy: n.count)
            return lower..<upper
        }
        return nil
    }
}

extension String {
    /// Without leading and trailing blanks.
    func trimmingSpaces() -> Substring { Substring(self).trimmingSpaces() }
}
