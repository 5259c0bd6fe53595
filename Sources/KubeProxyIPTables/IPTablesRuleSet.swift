/// A structured view of iptables state for one IP family: tables → chains (ordered) → rules.
///
/// Renderers build one of these and serialise it once; the host's `iptables-save` output is
/// parsed into one (`init(parsingSave:)`) so reconciliation and tests work on values, not on
/// text. The same text form serves both directions: `text` is valid `iptables-save` output and
/// valid `iptables-restore` input.
public struct IPTablesRuleSet: Hashable, Sendable {
    /// The tables in order.
    public var tables: [IPTablesTable]

    /// Creates a rule set.
    public init(tables: [IPTablesTable] = []) {
        self.tables = tables
    }

    /// The table called `name`, if present.
    public func table(named name: String) -> IPTablesTable? {
        tables.first { $0.name == name }
    }

    /// The chain `chain` of table `table`, if both exist.
    public func chain(_ chain: String, in table: String) -> IPTablesChain? {
        self.table(named: table)?.chain(named: chain)
    }

    /// The rules of `chain` in `table`; empty when the chain does not exist.
    public func rules(in chain: String, table: String) -> [IPTablesRule] {
        self.chain(chain, in: table)?.rules ?? []
    }

    /// Adds (or replaces) a chain in `table`, creating the table when needed.
    public mutating func setChain(_ chain: IPTablesChain, in table: String) {
        let tableIndex: Int
        if let existing = tables.firstIndex(where: { $0.name == table }) {
            tableIndex = existing
        } else {
            tables.append(IPTablesTable(name: table))
            tableIndex = tables.count - 1
        }
        if let chainIndex = tables[tableIndex].chainIndex(named: chain.name) {
            tables[tableIndex].chains[chainIndex] = chain
        } else {
            tables[tableIndex].chains.append(chain)
        }
    }

    /// Appends `rule` to its chain in `table`, creating a user chain when it does not exist.
    ///
    /// Appends in place (no copy of the chain), so building a 20k-rule set stays linear.
    public mutating func append(_ rule: IPTablesRule, in table: String) {
        if let tableIndex = tables.firstIndex(where: { $0.name == table }),
            let chainIndex = tables[tableIndex].chainIndex(named: rule.chain)
        {
            tables[tableIndex].chains[chainIndex].rules.append(rule)
        } else {
            setChain(IPTablesChain(name: rule.chain, rules: [rule]), in: table)
        }
    }

    /// The rule set as text: `*table`, chain declarations, `-A` lines, `COMMIT` per table.
    ///
    /// Fed to `iptables-restore` *without* `--noflush` this replaces the tables' contents;
    /// that is also exactly the shape `iptables-save` prints, which is what fakes need.
    public var text: String {
        var lines: [String] = []
        for table in tables {
            lines.append("*\(table.name)")
            for chain in table.chains { lines.append(chain.declarationLine) }
            for chain in table.chains {
                for rule in chain.rules { lines.append(rule.description) }
            }
            lines.append("COMMIT")
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }
}
