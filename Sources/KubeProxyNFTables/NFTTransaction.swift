import KubeProxyCore

/// The nftables address family of one of our tables: `ip` for IPv4, `ip6` for IPv6.
public enum NFTFamily: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case ip
    case ip6

    /// The family that serves `family`'s traffic.
    public init(_ family: IPFamily) { self = family == .ipv4 ? .ip : .ip6 }

    /// The IP family this table serves.
    public var ipFamily: IPFamily { self == .ip ? .ipv4 : .ipv6 }

    /// The payload keyword in rules: `ip daddr` / `ip6 daddr`.
    public var payload: String { rawValue }

    /// The set element type of an address: `ipv4_addr` / `ipv6_addr`.
    public var addressType: String { self == .ip ? "ipv4_addr" : "ipv6_addr" }

    public var description: String { rawValue }
}

/// The hook of a base chain, the packet path's entry into our table.
public struct NFTBaseChain: Hashable, Sendable {
    /// `filter` or `nat`.
    public var type: String
    /// `prerouting`, `input`, `forward`, `output` or `postrouting`.
    public var hook: String
    /// The numeric priority (`dstnat` is -100, `srcnat` 100, `filter` 0).
    public var priority: Int

    /// Creates a hook description.
    public init(type: String, hook: String, priority: Int) {
        self.type = type
        self.hook = hook
        self.priority = priority
    }
}

/// A chain declaration: regular (only reachable by jump/goto) or base (hooked).
public struct NFTChain: Hashable, Sendable {
    /// The chain name (per-service chains contain `/`, nothing else does).
    public var name: String
    /// The hook, for base chains.
    public var base: NFTBaseChain? {
        get { hook.first }
        set { hook = newValue.map { [$0] } ?? [] }
    }
    /// The chain comment, if any.
    public var comment: String?
    /// `base` as an array of at most one: 8 bytes (no allocation when empty) instead of the
    /// 41 of an optional hook, in each of the 110,000 chains of a 10,000 Service table.
    private var hook: [NFTBaseChain] = []

    /// Creates a chain declaration.
    public init(name: String, base: NFTBaseChain? = nil, comment: String? = nil) {
        self.name = name
        self.comment = comment
        self.base = base
    }
}

/// Whether a keyed container is a set (keys only) or a map (keys to values).
public enum NFTSetKind: String, Hashable, Sendable {
    case set
    case map
}

/// A set or map declaration.
public struct NFTSet: Hashable, Sendable {
    /// The set or map name.
    public var name: String
    /// The key type, one entry per concatenated field (`ipv4_addr`, `inet_proto`, `inet_service`).
    public var keyType: [String]
    /// The value type of a map (`verdict`), `nil` for a set.
    public var valueType: String?
    /// Flags such as `dynamic` and `timeout`.
    public var flags: [String]
    /// The default element timeout in seconds (affinity sets).
    public var timeoutSeconds: Int?
    /// The set comment.
    public var comment: String?

    /// Creates a declaration; a `valueType` makes it a map.
    public init(
        name: String, keyType: [String], valueType: String? = nil, flags: [String] = [], timeoutSeconds: Int? = nil,
        comment: String? = nil
    ) {
        self.name = name
        self.keyType = keyType
        self.valueType = valueType
        self.flags = flags
        self.timeoutSeconds = timeoutSeconds
        self.comment = comment
    }

    /// `set` or `map`.
    public var kind: NFTSetKind { valueType == nil ? .set : .map }
}

/// One rule, appended to a chain.
public struct NFTRule: Hashable, Sendable {
    /// The chain it goes to.
    public var chain: String
    /// The rule body in nft syntax, without the comment.
    public var body: String
    /// The rule comment, if any.
    public var comment: String?

    /// Creates a rule.
    public init(chain: String, _ body: String, comment: String? = nil) {
        self.chain = chain
        self.body = body
        self.comment = comment
    }
}

/// One element of a set or map.
public struct NFTElement: Hashable, Sendable {
    /// The set or map it belongs to.
    public var set: String
    /// The key, one string per concatenated field (`["172.30.0.41", "tcp", "80"]`).
    public var key: [String]
    /// The map value (`goto service-…`, `drop`), `nil` for set elements.
    public var value: String?
    /// The element comment (the service port name on no-endpoint elements).
    public var comment: String?

    /// Creates an element.
    public init(set: String, key: [String], value: String? = nil, comment: String? = nil) {
        self.set = set
        self.key = key
        self.value = value
        self.comment = comment
    }

    /// The key as nft prints it: fields joined by ` . `; also the identity of the element.
    public var keyText: String { key.joined(separator: " . ") }
}

/// One command of a transaction; each is one line of `nft -f` input and counts as one operation.
public enum NFTOperation: Hashable, Sendable {
    /// `add table` (with an optional comment); harmless when the table exists.
    case addTable(comment: String?)
    /// `delete table`; fails when it does not exist.
    case deleteTable
    /// `add chain`; harmless when the chain exists with the same hook.
    case addChain(NFTChain)
    /// `flush chain`: removes every rule; fails when the chain does not exist.
    case flushChain(String)
    /// `delete chain`: fails when missing, non-empty or still referenced.
    case deleteChain(String)
    /// `add set` / `add map`; harmless when it exists with the same definition.
    case addSet(NFTSet)
    /// `flush set` / `flush map`: removes every element.
    case flushSet(String, NFTSetKind)
    /// `delete set` / `delete map`: fails when missing or still referenced by a rule.
    case deleteSet(String, NFTSetKind)
    /// `add rule`: appends to the chain.
    case addRule(NFTRule)
    /// `add element`: fails when a map already holds the key with another value.
    case addElement(NFTElement)
    /// `delete element`: fails when the key is missing.
    case deleteElement(NFTElement)
}

/// How a transaction's operations are spelled as `nft -f` input. Both forms leave the kernel
/// holding the same table; they differ in what nft 1.0.x loads into its cache first.
///
/// nft 1.0.x (1.0.6 measured) reloads its cache before every transaction. `add rule`,
/// `add element`, every `delete` and `add table { … }` make it dump every chain of every table
/// (at 10,000 Services, 110,000 chains: ≈ 0.6 s of kernel time, quadratic in the chain count),
/// while `add chain` (also with rules in its block), `flush chain` and `add set` (also with
/// elements) need only the list of tables.
public enum NFTTextForm: Hashable, Sendable {
    /// One command per line: `add rule …`, `add element …`.
    case lines
    /// A run of rules for one chain becomes `add chain C { rule ; rule ; }`, a run of elements
    /// of one set `add set S { <declaration> ; elements = { … } ; }`, and every set a rule
    /// refers to (`@name`) is first re-declared unchanged, because nft resolves the reference in
    /// its cache, which then holds no sets. Sets missing from `declarations` (name → the
    /// declaration the table has) keep the line form.
    case grouped(declarations: [String: NFTSet])
}

/// An atomic batch of operations on one table, serialised once to `nft -f` input.
///
/// The kernel applies all of it or nothing, so a sync never leaves a half-written table.
/// Operations are kept in the order they were added; the text is deterministic.
///
/// Per-service chains are held by reference to their service ports (`appendChains`) and expanded
/// into `add chain` / `flush chain` / `add rule` operations only while the transaction is
/// written or applied: a full sync of 10,000 Services is 540,000 operations, whose array alone
/// (≈ 48 MB) would double what the rendered ruleset already holds.
public struct NFTTransaction: Hashable, Sendable {
    /// The table's family.
    public var family: NFTFamily
    /// The table's name (`kube-proxy`).
    public var table: String
    /// How `text` spells them (one line each unless the planner says otherwise).
    public var textForm: NFTTextForm = .lines
    /// The operations in order, partly as chain groups (expanded on use).
    private var pieces: [Piece] = []
    /// How many operations the pieces expand to.
    public private(set) var count = 0
    /// How many `add chain` operations they expand to (applying reserves room for them).
    private(set) var addedChains = 0

    /// Stored operations: one operation, or a group of chains written whole.
    private enum Piece: Hashable, Sendable {
        case operation(NFTOperation)
        /// `add chain` for every chain, then `flush chain` and its rules for each.
        case chains(NFTChainGroup)
    }

    /// Upstream's table name, shared by both families.
    public static let defaultTable = "kube-proxy"

    /// Creates a transaction.
    public init(family: NFTFamily, table: String = NFTTransaction.defaultTable, operations: [NFTOperation] = []) {
        self.family = family
        self.table = table
        self.operations = operations
    }

    /// The operations, in order (materialised on each call: for tests and small transactions;
    /// large ones are walked with `forEachOperation`).
    public var operations: [NFTOperation] {
        get {
            var all: [NFTOperation] = []
            all.reserveCapacity(count)
            forEachOperation { all.append($0) }
            return all
        }
        set {
            pieces = newValue.map(Piece.operation)
            count = newValue.count
        }
    }

    /// Whether there is nothing to run.
    public var isEmpty: Bool { count == 0 }

    /// Appends one operation.
    public mutating func append(_ operation: NFTOperation) {
        pieces.append(.operation(operation))
        count += 1
        if case .addChain = operation { addedChains += 1 }
    }

    /// Appends operations.
    public mutating func append(contentsOf more: some Sequence<NFTOperation>) {
        for operation in more { append(operation) }
    }

    /// Appends `add chain` for every chain of `ports` (in order) not in `skipping`, then
    /// `flush chain` and every rule of each, without materialising those operations or even
    /// a list of the chains (at 10,000 Services, 110,000 chains).
    public mutating func appendChains(of ports: [NFTServicePortObjects], skipping: Set<String> = []) {
        let group = NFTChainGroup(ports: ports, skipping: skipping)
        var chains = 0
        group.forEachChain { chain in
            chains += 1
            count += 2 + chain.ruleCount
        }
        guard chains > 0 else { return }
        addedChains += chains
        pieces.append(.chains(group))
    }

    /// Calls `body` with every operation in order, expanding chain groups on the way.
    public func forEachOperation(_ body: (NFTOperation) throws -> Void) rethrows {
        for piece in pieces {
            switch piece {
            case .operation(let operation):
                try body(operation)
            case .chains(let group):
                try group.forEachChain { try body(.addChain($0.chain)) }
                try group.forEachChain { chain in
                    try body(.flushChain(chain.name))
                    try chain.forEachRule { try body(.addRule($0)) }
                }
            }
        }
    }

    /// Walks the stored pieces: single operations, and chain groups whole (the text writer
    /// spells a group's rules straight from their packed text).
    func forEachPiece(
        operation: (NFTOperation) throws -> Void, chains: (NFTChainGroup) throws -> Void
    ) rethrows {
        for piece in pieces {
            switch piece {
            case .operation(let one): try operation(one)
            case .chains(let group): try chains(group)
            }
        }
    }

    /// Equal when family, table, text form and the expanded operations are.
    public static func == (lhs: NFTTransaction, rhs: NFTTransaction) -> Bool {
        lhs.family == rhs.family && lhs.table == rhs.table && lhs.textForm == rhs.textForm && lhs.count == rhs.count
            && lhs.operations == rhs.operations
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(table)
        hasher.combine(textForm)
        forEachOperation { hasher.combine($0) }
    }
}

/// The per-service chains of some service ports that a transaction writes whole: every chain
/// of `ports` except those named in `skipping` (endpoint chains a restart keeps).
struct NFTChainGroup: Hashable, Sendable {
    /// The service ports, in the order their chains are written.
    var ports: [NFTServicePortObjects]
    /// Chains not written.
    var skipping: Set<String>

    /// Calls `body` with every written chain in order.
    func forEachChain(_ body: (NFTChainContent) throws -> Void) rethrows {
        for port in ports {
            for chain in port.chains where skipping.isEmpty || !skipping.contains(chain.name) { try body(chain) }
        }
    }
}
