/// One table (`nat`, `filter`, …) with its chains in the order they were declared or printed.
public struct IPTablesTable: Hashable, Sendable {
    /// The table name without the `*`.
    public var name: String
    /// The chains, built-in and user-defined.
    public var chains: [IPTablesChain]

    /// Creates a table.
    public init(name: String, chains: [IPTablesChain] = []) {
        self.name = name
        self.chains = chains
    }

    /// The chain called `name`, if the table has it.
    public func chain(named name: String) -> IPTablesChain? {
        chains.first { $0.name == name }
    }

    /// Index of the chain called `name`.
    public func chainIndex(named name: String) -> Int? {
        chains.firstIndex { $0.name == name }
    }

    /// Every rule in the table, chain by chain.
    public var rules: [IPTablesRule] { chains.flatMap(\.rules) }

    /// The built-in chains of the well-known tables, in the order iptables lists them; `nil`
    /// for a table name the kernel does not have.
    ///
    /// Needed wherever a table must be created from nothing (the fake applier) or a chain
    /// must be classified as built-in without a policy in hand.
    public static func builtinChains(of table: String) -> [String]? {
        switch table {
        case "filter": return ["INPUT", "FORWARD", "OUTPUT"]
        case "nat": return ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]
        case "mangle": return ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]
        case "raw": return ["PREROUTING", "OUTPUT"]
        case "security": return ["INPUT", "FORWARD", "OUTPUT"]
        default: return nil
        }
    }
}
