/// The restore input that removes everything the userspace mode ever wrote (docs/userspace-behaviour.md#cleanup,
/// `--cleanup`), computed from the parsed current state.
///
/// Every rule outside the portal chains that jumps to one of them is deleted — all copies of
/// J1…J5, and also any other jump into our chains, since a chain still referenced cannot be
/// deleted — then each existing portal chain is flushed and deleted. Because it is computed
/// from what exists, running it on a clean host yields an empty script (nothing to run), and
/// running it twice is harmless.
public enum PortalCleanup {
    /// The cleanup commands for `current`; `isEmpty` when nothing of ours is left.
    public static func script(current: IPTablesRuleSet) -> IPTablesRestoreScript {
        var script = IPTablesRestoreScript()
        for table in PortalChain.tables {
            let ours = Set(PortalChain.chains(in: table).map(\.rawValue))
            var commands: [IPTablesCommand] = []
            for chain in current.table(named: table)?.chains ?? [] where !ours.contains(chain.name) {
                for rule in chain.rules {
                    if let target = rule.target, ours.contains(target) { commands.append(.delete(rule)) }
                }
            }
            let present = PortalChain.chains(in: table).filter { current.chain($0.rawValue, in: table) != nil }
            commands += present.map { .flushChain($0.rawValue) }
            commands += present.map { .deleteChain($0.rawValue) }
            script.sections.append(IPTablesRestoreScript.Section(table: table, commands: commands))
        }
        return script
    }
}
