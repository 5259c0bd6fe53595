import KubeProxyCore
import KubeProxyNFTables

/// Why the fake refused a transaction, in nft's words.
public struct FakeNFTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The failing operation's line.
    public var line: String
    /// nft's error text (`No such file or directory`, `Device or resource busy`, …) and detail.
    public var message: String

    public var description: String { "Error: \(message)\n\(line)" }
}

/// One nftables table held in memory, with the kernel's rules for each operation.
///
/// What it rejects, as nft does: any operation on a missing table; a jump, goto or map verdict
/// to a missing chain and a `@set` reference to a missing set; an element into a missing set,
/// with the wrong number of key fields, a field of the wrong type or family, a value on a set
/// element or none on a map element; a map key that is present with another value; deleting or
/// flushing a missing chain, set or element; deleting a chain that has rules or is still
/// referenced, or a set a rule references; re-adding a chain with another hook or a set with
/// another type.
public struct FakeNFTable: Hashable, Sendable {
    /// One chain.
    public struct Chain: Hashable, Sendable {
        /// The declaration.
        public var definition: NFTChain
        /// Its rules in order.
        public var rules: [NFTRule]
    }

    /// One set or map.
    public struct Container: Hashable, Sendable {
        /// The declaration.
        public var definition: NFTSet
        /// Elements by key text.
        public var elements: [String: NFTElement]
    }

    /// The family.
    public var family: NFTFamily
    /// The name.
    public var name: String
    /// The table comment.
    public var comment: String?
    /// Chains by name.
    public var chains: [String: Chain] = [:]
    /// Chain names in creation order (as nft lists them).
    public var chainOrder: [String] = []
    /// Sets and maps by name.
    public var sets: [String: Container] = [:]
    /// Set names in creation order.
    public var setOrder: [String] = []

    /// Creates an empty table.
    public init(family: NFTFamily, name: String = NFTTransaction.defaultTable, comment: String? = nil) {
        self.family = family
        self.name = name
        self.comment = comment
    }

    /// The rules of `chain` as `body [comment "c"]` lines, or nil when it does not exist.
    public func rules(of chain: String) -> [String]? {
        chains[chain].map { $0.rules.map { $0.body + ($0.comment.map { " comment \"\($0)\"" } ?? "") } }
    }

    /// The elements of `set` as `key [comment "c"] [: value]` lines, sorted, or nil.
    public func elements(of set: String) -> [String]? {
        sets[set].map { container in
            container.elements.values.map { element in
                element.keyText + (element.comment.map { " comment \"\($0)\"" } ?? "") + (element.value.map { " : \($0)" } ?? "")
            }.sorted()
        }
    }

    /// Applies one operation (the table already exists). `validating: false` skips reference
    /// checks, for loading expectations written in upstream's sorted (forward-referencing) order.
    public mutating func apply(_ operation: NFTOperation, line: String, validating: Bool = true) throws(FakeNFTError) {
        func fail(_ message: String) -> FakeNFTError { FakeNFTError(line: line, message: message) }
        let enoent = "Could not process rule: No such file or directory"
        let ebusy = "Could not process rule: Device or resource busy"
        switch operation {
        case .addTable(let comment):
            if let comment { self.comment = comment }
        case .deleteTable:
            break  // handled by the owner
        case .addChain(let chain):
            if let existing = chains[chain.name] {
                guard existing.definition.base == chain.base else { throw fail("Could not process rule: File exists") }
            } else {
                chains[chain.name] = Chain(definition: chain, rules: [])
                chainOrder.append(chain.name)
            }
        case .flushChain(let name):
            guard chains[name] != nil else { throw fail(enoent) }
            chains[name]?.rules = []
        case .deleteChain(let name):
            guard let chain = chains[name] else { throw fail(enoent) }
            guard chain.rules.isEmpty, !isChainReferenced(name) else { throw fail(ebusy) }
            chains[name] = nil
            chainOrder.removeAll { $0 == name }
        case .addSet(let set):
            if let existing = sets[set.name] {
                let same =
                    existing.definition.keyType == set.keyType && existing.definition.valueType == set.valueType
                    && existing.definition.timeoutSeconds == set.timeoutSeconds
                guard same else { throw fail("Could not process rule: File exists") }
            } else {
                sets[set.name] = Container(definition: set, elements: [:])
                setOrder.append(set.name)
            }
        case .flushSet(let name, let kind):
            guard let set = sets[name], set.definition.kind == kind else { throw fail(enoent) }
            sets[name]?.elements = [:]
        case .deleteSet(let name, let kind):
            guard let set = sets[name], set.definition.kind == kind else { throw fail(enoent) }
            guard !isSetReferenced(name) else { throw fail(ebusy) }
            sets[name] = nil
            setOrder.removeAll { $0 == name }
        case .addRule(let rule):
            guard chains[rule.chain] != nil else { throw fail(enoent) }
            if validating {
                for target in Self.chainTargets(rule.body) where chains[target] == nil { throw fail(enoent) }
                for set in Self.setReferences(rule.body) where sets[set] == nil { throw fail(enoent) }
            }
            chains[rule.chain]?.rules.append(rule)
        case .addElement(let element):
            guard let set = sets[element.set] else { throw fail(enoent) }
            if let problem = Self.typeProblem(element, in: set.definition) { throw fail("datatype mismatch, \(problem)") }
            if validating, let value = element.value {
                for target in Self.chainTargets(value) where chains[target] == nil { throw fail(enoent) }
            }
            if let existing = set.elements[element.keyText] {
                guard existing.value == element.value else { throw fail("Could not process rule: File exists") }
            } else {
                sets[element.set]?.elements[element.keyText] = element
            }
        case .deleteElement(let element):
            guard let set = sets[element.set] else { throw fail(enoent) }
            guard set.elements[element.keyText] != nil else { throw fail(enoent) }
            sets[element.set]?.elements[element.keyText] = nil
        }
    }

    /// Whether a rule or a map element jumps or goes to `chain`.
    public func isChainReferenced(_ chain: String) -> Bool {
        chains.values.contains { $0.rules.contains { Self.chainTargets($0.body).contains(chain) } }
            || sets.values.contains { $0.elements.values.contains { $0.value.map { Self.chainTargets($0).contains(chain) } ?? false } }
    }

    /// Whether a rule names `@set`.
    public func isSetReferenced(_ set: String) -> Bool {
        chains.values.contains { $0.rules.contains { Self.setReferences($0.body).contains(set) } }
    }

    /// Chain names after `jump` / `goto` in `text`.
    static func chainTargets(_ text: String) -> [String] {
        let words = text.split(separator: " ")
        return words.indices.dropLast().compactMap { index in
            words[index] == "jump" || words[index] == "goto" ? String(words[index + 1]) : nil
        }
    }

    /// Set names referenced as `@name` in `text`.
    static func setReferences(_ text: String) -> [String] {
        text.split(separator: " ").filter { $0.hasPrefix("@") }.map { String($0.dropFirst()) }
    }

    /// Why `element` does not fit `set`'s type, or nil.
    static func typeProblem(_ element: NFTElement, in set: NFTSet) -> String? {
        guard element.key.count == set.keyType.count else {
            return "expected \(set.keyType.count) key fields (\(set.keyType.joined(separator: " . "))), got \(element.key.count)"
        }
        guard (element.value != nil) == (set.valueType != nil) else {
            return set.valueType == nil ? "set element with a value" : "map element without a value"
        }
        for (field, type) in zip(element.key, set.keyType) {
            let fits: Bool
            switch type {
            case "ipv4_addr": fits = IPAddress(field)?.family == .ipv4
            case "ipv6_addr": fits = IPAddress(field)?.family == .ipv6
            case "inet_proto": fits = ["tcp", "udp", "sctp"].contains(field)
            case "inet_service": fits = Int(field).map { (0...65535).contains($0) } ?? false
            default: fits = true
            }
            if !fits { return "\"\(field)\" is not of type \(type)" }
        }
        return nil
    }
}
