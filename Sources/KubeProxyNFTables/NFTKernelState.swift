import KubeProxyCore

/// What the kernel holds in one of our tables, as far as syncing needs to know: chains with
/// their rule count and (for chains we wrote) a digest of their rules, sets and maps with their
/// elements, and since when each stale per-service chain has been flushed.
///
/// It is a plain value. It comes from `nft -j list table` at start-up or after a failure
/// (digests then unknown), and afterwards is advanced with `apply` by exactly the transactions
/// that succeeded, so it never believes in a change the kernel refused.
public struct NFTKernelState: Hashable, Sendable {
    /// One chain.
    public struct Chain: Hashable, Sendable {
        /// The hook, for base chains.
        public var base: NFTBaseChain? {
            get { hook.first }
            set { hook = newValue.map { [$0] } ?? [] }
        }
        /// How many rules it holds.
        public var ruleCount: Int
        /// `NFTDigest` of its rules, or `nil` when they were read from the kernel and not
        /// written by us.
        public var digest: UInt64?
        /// `base` as an array of at most one (see `NFTChain`): this record is kept for each of
        /// the 110,000 chains of a 10,000 Service table, a 32-byte entry instead of 64.
        private var hook: [NFTBaseChain] = []

        /// Creates a chain record.
        public init(base: NFTBaseChain? = nil, ruleCount: Int = 0, digest: UInt64? = NFTDigest.empty) {
            self.ruleCount = ruleCount
            self.digest = digest
            self.base = base
        }
    }

    /// One set or map.
    public struct Container: Hashable, Sendable {
        /// Set or map.
        public var kind: NFTSetKind
        /// Element key text (fields joined by ` . `) to map value (empty for set elements).
        public var elements: [String: String]

        /// Creates a container record.
        public init(kind: NFTSetKind, elements: [String: String] = [:]) {
            self.kind = kind
            self.elements = elements
        }
    }

    /// The table's family.
    public var family: NFTFamily
    /// The table's name.
    public var table: String
    /// Whether the table exists.
    public var tableExists: Bool
    /// Chains by name.
    public var chains: [String: Chain]
    /// Sets and maps by name.
    public var sets: [String: Container]
    /// Per-service chains that were flushed because nothing uses them, with the time they were
    /// flushed (monotonic, any fixed origin); deleted once old enough.
    public var staleSince: [String: Duration]
    /// What each service port got in the last syncs, once a full sync wrote them all; `nil`
    /// after reading the kernel (a partial sync then compares the whole table). With it, a
    /// partial sync compares only the changed ports' old and new objects.
    public var servicePortsWritten: [ServicePortName: NFTServicePortObjects]?
    /// How many written service ports want each dispatch element (ports of one Service share
    /// the ClusterIP in `cluster-ips`): an element goes only when its last user does.
    var elementUsers: [NFTElementID: Int] = [:]
    /// Chains whose stale-chain deletion failed: no longer counted as stale, flushed again by
    /// the next sync and aged anew.
    var orphanedChains: Set<String> = []
    /// Affinity sets a partial sync's clean-up was to delete and did not: the next partial
    /// sync deletes them unless a service port uses them again.
    var orphanedSets: Set<String> = []
    /// The rules of all chains together (kept up to date so a sync need not add up 100,000
    /// chains for its metrics).
    public internal(set) var totalRules = 0

    /// The state of a machine without our table.
    public init(family: NFTFamily, table: String = NFTTransaction.defaultTable) {
        self.family = family
        self.table = table
        self.tableExists = false
        self.chains = [:]
        self.sets = [:]
        self.staleSince = [:]
        self.servicePortsWritten = nil
    }

    /// Advances the state by a transaction the kernel accepted.
    public mutating func apply(_ transaction: NFTTransaction) {
        // One allocation for the chains a first full sync adds, not a doubling with both copies
        // alive. `add chain` also re-declares existing chains (a restart re-declares them all),
        // so the table is sized for the larger of the two, not their sum.
        chains.reserveCapacity(max(chains.count, transaction.addedChains))
        transaction.forEachOperation { apply($0) }
    }

    /// Advances the state by one accepted operation.
    public mutating func apply(_ operation: NFTOperation) {
        switch operation {
        case .addTable:
            tableExists = true
        case .deleteTable:
            self = NFTKernelState(family: family, table: table)
        case .addChain(let chain):
            if chains[chain.name] == nil { chains[chain.name] = Chain(base: chain.base) }
        case .flushChain(let name):
            totalRules -= chains[name]?.ruleCount ?? 0
            chains[name]?.ruleCount = 0
            chains[name]?.digest = NFTDigest.empty
        case .deleteChain(let name):
            totalRules -= chains[name]?.ruleCount ?? 0
            chains[name] = nil
            staleSince[name] = nil
        case .addSet(let set):
            if sets[set.name] == nil { sets[set.name] = Container(kind: set.kind) }
        case .flushSet(let name, _):
            sets[name]?.elements = [:]
        case .deleteSet(let name, _):
            sets[name] = nil
        case .addRule(let rule):
            guard var chain = chains[rule.chain] else { return }
            chain.ruleCount += 1
            totalRules += 1
            chain.digest = chain.digest.map { NFTDigest.adding(rule, to: $0) }
            chains[rule.chain] = chain
        case .addElement(let element):
            sets[element.set]?.elements[element.keyText] = element.value ?? ""
        case .deleteElement(let element):
            sets[element.set]?.elements[element.keyText] = nil
        }
    }
}

/// A dispatch element by set and key (its value may change, it stays the same element).
struct NFTElementID: Hashable, Sendable {
    var set: String
    var key: String

    init(_ element: NFTElement) {
        set = element.set
        key = element.keyText
    }
}
