/// The restore input that removes everything iptables mode wrote (`--cleanup`), computed from
/// the parsed current state of one family.
///
/// Removed: every rule outside our chains that jumps into them (the §2.1 jumps, and any other,
/// since a referenced chain cannot be deleted), then our chains flushed and deleted — filter
/// `KUBE-SERVICES`, `KUBE-EXTERNAL-SERVICES`, `KUBE-FORWARD`, `KUBE-NODEPORTS`,
/// `KUBE-PROXY-FIREWALL`; nat `KUBE-SERVICES`, `KUBE-NODEPORTS`, `KUBE-POSTROUTING` and every
/// per-service chain; the canary in mangle, nat and filter; and nat `KUBE-MARK-MASQ` when no
/// other component's rule uses it. Kept: kubelet's `KUBE-FIREWALL` and its jumps (the localnet
/// guard protects the node whatever proxy runs). Computed from what exists, so a clean host
/// gives an empty script and a second run is harmless.
public enum IPTablesModeCleanup {
    /// Our fixed chains per table.
    static let fixedChains: [String: [String]] = [
        "filter": [
            IPTablesModeChain.services, IPTablesModeChain.externalServices, IPTablesModeChain.forward, IPTablesModeChain.nodePorts,
            IPTablesModeChain.proxyFirewall, IPTablesModeChain.canary,
        ],
        "nat": [
            IPTablesModeChain.services, IPTablesModeChain.nodePorts, IPTablesModeChain.postrouting, IPTablesModeChain.markMasquerade,
            IPTablesModeChain.canary,
        ],
        "mangle": [IPTablesModeChain.canary],
    ]

    /// The cleanup commands for `current`; `isEmpty` when nothing of ours is left.
    public static func script(current: IPTablesRuleSet) -> IPTablesRestoreScript {
        var script = IPTablesRestoreScript()
        for name in ["filter", "nat", "mangle"] {
            guard let table = current.table(named: name) else { continue }
            let fixed = Set(fixedChains[name] ?? [])
            var ours = Set(
                table.chains.map(\.name).filter { fixed.contains($0) || (name == "nat" && IPTablesModeChain.isServiceChain($0)) })
            // KUBE-MARK-MASQ was shared with kubelet and CNI plugins: keep it while they use it.
            let foreignMarkers = table.chains.filter { !ours.contains($0.name) }.flatMap(\.rules)
                .contains { $0.target == IPTablesModeChain.markMasquerade }
            if foreignMarkers { ours.remove(IPTablesModeChain.markMasquerade) }
            var commands: [IPTablesCommand] = []
            for chain in table.chains where !ours.contains(chain.name) {
                for rule in chain.rules {
                    if let target = rule.target, ours.contains(target) { commands.append(.delete(rule)) }
                }
            }
            let present = table.chains.map(\.name).filter(ours.contains)
            commands += present.map { .flushChain($0) }
            commands += present.map { .deleteChain($0) }
            script.sections.append(IPTablesRestoreScript.Section(table: name, commands: commands))
        }
        return script
    }
}
