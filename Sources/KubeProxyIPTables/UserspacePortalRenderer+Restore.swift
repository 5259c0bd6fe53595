extension UserspacePortalRenderer {
    /// The one `iptables-restore --noflush` input of a sync: for `nat` then `filter`, declare
    /// the portal chains (`:CHAIN - [0:0]`, which with `--noflush` creates a missing chain and
    /// flushes an existing one — and touches no other chain), append every desired rule, then
    /// the parent-jump fixes from `JumpReconciler` (usually none).
    ///
    /// The whole state of our chains is rewritten each time, so rules of removed services
    /// vanish without tracking what was there (unlike upstream, docs/userspace-behaviour.md#rule-updates), and the kernel
    /// applies it atomically per table.
    ///
    /// - Parameters:
    ///   - desired: the result of `render(_:)`.
    ///   - current: the parsed `iptables-save` output of this family, taken just before.
    public static func restoreScript(desired: IPTablesRuleSet, current: IPTablesRuleSet) -> IPTablesRestoreScript {
        var script = IPTablesRestoreScript()
        for table in PortalChain.tables {
            var commands: [IPTablesCommand] = PortalChain.chains(in: table).map { .declareChain(name: $0.rawValue, policy: nil) }
            for chain in PortalChain.chains(in: table) {
                commands += desired.rules(in: chain.rawValue, table: table).map { .append($0) }
            }
            commands += JumpReconciler.commands(for: table, current: current)
            script.sections.append(IPTablesRestoreScript.Section(table: table, commands: commands))
        }
        return script
    }

    /// Whether `current` already has exactly the desired portal chains (structurally) and all
    /// five jumps in place, so a sync may skip `iptables-restore` altogether.
    public static func isSatisfied(desired: IPTablesRuleSet, current: IPTablesRuleSet) -> Bool {
        PortalState(current) == PortalState(desired) && JumpReconciler.script(current: current).isEmpty
    }

    /// The proxy port each service port (keyed by its rule comment, `ns/name:port`) was sent
    /// to by rules a previous run left in the nat portal chains (REDIRECT `--to-ports` or DNAT
    /// `:PP`).
    ///
    /// A restarted proxy re-binds these ports so the rules already in the kernel stay valid
    /// and service traffic keeps flowing across the restart. Service ports whose rules name
    /// different ports are left out: there is no right answer, so they get a fresh port.
    public static func previousProxyPorts(from ruleSet: IPTablesRuleSet) -> [String: Int] {
        var result: [String: Int] = [:]
        for (comment, ports) in PortalState(ruleSet).proxyPortsByComment where ports.count == 1 {
            result[comment] = ports.first
        }
        return result
    }
}
