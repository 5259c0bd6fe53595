/// Computes the commands that put the five parent jumps (docs/userspace-behaviour.md#parent-jumps) where they belong, from the
/// parsed current state — and nothing when they already are.
///
/// Jumps are not rewritten every sync (that would flush the built-in chains other software
/// uses). Instead each jump must exist exactly once, J1/J2/J5 as rule 1 and J3/J4 as the last
/// rule of their chain. A jump that is missing is added (`-I CHAIN 1` or `-A`); one that is
/// duplicated or misplaced has every copy deleted (with the arguments iptables-save printed,
/// which `-D` always matches) and is added back once in the right place. Deletions come before
/// additions in a table, so the result holds whatever other rules the chain contains.
/// Applying the commands and reconciling again yields no commands (tested as a fixed point).
public enum JumpReconciler {
    /// The commands for `table` (`nat` or `filter`), deletions first.
    public static func commands(
        for table: String, current: IPTablesRuleSet, jumps: [ParentJump] = ParentJump.all
    ) -> [IPTablesCommand] {
        var deletions: [IPTablesCommand] = []
        var additions: [IPTablesCommand] = []
        for jump in jumps where jump.table == table {
            let rules = current.rules(in: jump.chain, table: table)
            let copies = rules.indices.filter { jump.matches(rules[$0]) }
            let wanted = jump.position == .first ? rules.startIndex : rules.endIndex - 1
            if copies.count == 1 && copies[0] == wanted { continue }
            deletions += copies.map { .delete(rules[$0]) }
            switch jump.position {
            case .first: additions.append(.insert(jump.rule, position: 1))
            case .last: additions.append(.append(jump.rule))
            }
        }
        return deletions + additions
    }

    /// The commands for both portal tables as a script (empty when all jumps are right).
    ///
    /// Only usable on its own when the portal chains already exist; the sync script
    /// (`UserspacePortalRenderer.restoreScript`) declares them in the same input.
    public static func script(current: IPTablesRuleSet, jumps: [ParentJump] = ParentJump.all) -> IPTablesRestoreScript {
        IPTablesRestoreScript(
            sections: PortalChain.tables.map {
                IPTablesRestoreScript.Section(table: $0, commands: commands(for: $0, current: current, jumps: jumps))
            })
    }
}
