import KubeProxyCore

/// One iptables-mode sync for one family: the restore input and the facts about it.
///
/// Produced by `IPTablesModeState.plan(…)` without side effects; the caller runs `script`
/// through `iptables-restore -w 5 -W 100000 --noflush --counters` (not at all when it is
/// empty: nothing changed) and reports the outcome back with `IPTablesModeState.didApply(_:)`
/// or `didFail(_:)`.
public struct IPTablesModeSyncPlan: Sendable {
    /// Whether every chain is brought to its render (start-up, after a failure, forced), compared
    /// with the kernel's, rather than only the changed services' chains.
    public var isFullSync: Bool
    /// Restores to run, in order, before `script` on a full sync that creates more than
    /// `firstInstallBatch` service ports' chains the kernel does not have yet (a first install,
    /// a restart after many Services were created): those chains, which nothing refers to
    /// until `script`; empty otherwise. A failure in any of them leaves traffic as it was; the
    /// next full sync adopts the chains that were created. Built on demand from
    /// `stagingBatches`; a runner should take them one at a time (`stagingScript(at:)`) so only
    /// one batch's commands and text exist at once.
    public var stagingScripts: [IPTablesRestoreScript] { stagingBatches.indices.map(stagingScript(at:)) }
    /// The chains of each staging restore, per service port: the renders' own arrays (shared
    /// with `next`), so holding them costs one small array per batch, not a copy of 100k
    /// chains or their commands.
    let stagingBatches: [[[IPTablesChain]]]
    /// The restore input: `*filter`, `*nat`, and on full syncs `*mangle` (canary only).
    public var script: IPTablesRestoreScript
    /// Whether per-endpoint comments were left out (more endpoints than the threshold).
    public var largeClusterMode: Bool
    /// Service ports some of whose per-service chains are in `script` or `stagingScripts`.
    public var rewrittenServicePorts: [ServicePortName]
    /// Per-service chains that `script` flushes and deletes (`-X`).
    public var staleChains: [String]
    /// Rule and line counts for the metrics.
    public var counts: IPTablesModeCounts
    /// What the kernel holds once `script` succeeded.
    let next: [ServicePortName: IPTablesModeState.Entry]
    /// The filter and nat top-level chains the kernel holds once `script` succeeded.
    let nextTopLevel: [String: IPTablesChain]

    /// The restore text.
    public var text: String { script.text }

    /// The number of staging restores.
    public var stagingScriptCount: Int { stagingBatches.count }

    /// Staging restore `index`: its chains declared, then their rules appended, in nat.
    public func stagingScript(at index: Int) -> IPTablesRestoreScript {
        let chains = stagingBatches[index].joined()
        var commands = chains.map { IPTablesCommand.declareChain(name: $0.name, policy: nil) }
        for chain in chains { commands += chain.rules.map(IPTablesCommand.append) }
        return IPTablesRestoreScript(sections: [.init(table: "nat", commands: commands)])
    }
}

/// Counts for `kubeproxy_sync_proxy_rules_iptables_*` and the sync log (spec §5.6, §7.1).
public struct IPTablesModeCounts: Hashable, Sendable {
    /// Rules kube-proxy owns in filter (`iptables_total{table="filter"}`).
    public var filterRules: Int
    /// filter rules in this restore (`iptables_last{table="filter"}`): all of them on full
    /// syncs, those of changed chains on partial ones.
    public var filterRulesWritten: Int
    /// Rules kube-proxy owns in nat after the sync, including chains a partial sync did not
    /// rewrite (`iptables_total{table="nat"}`).
    public var natRulesTotal: Int
    /// nat rules in this restore (`iptables_last{table="nat"}`); `-X` lines not counted.
    public var natRulesWritten: Int
    /// Lines of the restore inputs, staging ones included (`*table` and `COMMIT` included).
    public var restoreLines: Int
    /// Service ports with Local internal policy, endpoints somewhere, none local.
    public var noLocalEndpointsInternal: Int
    /// Service ports with Local external policy, endpoints somewhere, none local.
    public var noLocalEndpointsExternal: Int

    /// Creates counts.
    public init(
        filterRules: Int = 0, filterRulesWritten: Int = 0, natRulesTotal: Int = 0, natRulesWritten: Int = 0,
        restoreLines: Int = 0, noLocalEndpointsInternal: Int = 0, noLocalEndpointsExternal: Int = 0
    ) {
        self.filterRules = filterRules
        self.filterRulesWritten = filterRulesWritten
        self.natRulesTotal = natRulesTotal
        self.natRulesWritten = natRulesWritten
        self.restoreLines = restoreLines
        self.noLocalEndpointsInternal = noLocalEndpointsInternal
        self.noLocalEndpointsExternal = noLocalEndpointsExternal
    }
}
