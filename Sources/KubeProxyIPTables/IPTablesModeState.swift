import KubeProxyCore

/// The iptables mode's memory between syncs for one family: what each service port's chains
/// hold in the kernel, and whether the next sync must be full (spec §2.9, KEP-3453).
///
/// A state machine in the module's style: `plan` is pure and returns the restore to run;
/// `didApply` / `didFail` advance the state from its outcome. Guarantees:
/// - **Full sync** rewrites the whole filter part and the nat top-level chains
///   (`KUBE-SERVICES`, `KUBE-NODEPORTS`, `KUBE-POSTROUTING`, `KUBE-MARK-MASQ`).
/// - **Partial sync** rewrites the per-service chains only of service ports whose port or
///   endpoints changed since the last successful sync, and of those only when the rendered
///   chains differ; and of the top-level chains (and the filter part) only those whose rules
///   differ from the last applied ones. Upstream rewrites the top level on every sync, which
///   makes each restore O(services) for `iptables-restore` (at 10k Services `KUBE-SERVICES`
///   alone is 10k rules, each naming a chain the nft-based tool must look up); the kernel ends
///   up the same, and the canary check and the periodic full sync repair tampering as they
///   repair a flush. Planning stays O(services) (the dispatch rules are compared), the restore
///   is O(changed endpoints), and a sync that changes nothing has an empty restore.
/// - **Full sync** (first sync, after a failed restore, after a parameter change, or forced
///   by the caller — canary gone, periodic resync) brings every chain to its render and
///   re-inserts the jumps from built-in chains that `current` (an `iptables-save`) lacks, and
///   creates the canary chain in mangle, nat and filter where `current` lacks it. Chains that
///   `current` shows with exactly the rendered rules are adopted, not written (replacing a
///   chain with itself changes nothing); so a restart over its own rules runs no restore, and a
///   restart or resync after changes writes the differing chains only — still one atomic
///   restore, plus staging restores for chains the kernel does not have yet.
/// - **Stale chains** — per-service chains this state wrote before, or `current` shows, that no
///   service uses any more — are flushed (`:CHAIN - [0:0]`) and deleted (`-X`) in the same
///   restore, after the rules that referred to them were rewritten.
/// - A failed restore changes nothing here except that the next sync is full.
public struct IPTablesModeState: Sendable {
    /// A service port as last rendered: the inputs (to detect change) and the output.
    struct Entry: Hashable, Sendable {
        var port: ServicePort
        var endpoints: [Endpoint]
        var largeClusterMode: Bool
        var rules: IPTablesServicePortRules
    }

    /// The renderer, with the current parameters.
    public private(set) var renderer: IPTablesModeRenderer
    /// Whether the next plan is a full sync whatever the caller asks.
    public private(set) var needsFullSync = true
    /// Per service port, what the kernel holds after the last successful restore.
    private var applied: [ServicePortName: Entry] = [:]
    /// The filter chains and nat top-level chains the kernel holds after the last successful
    /// restore, by table and chain name.
    private var appliedTopLevel: [String: IPTablesChain] = [:]
    /// Whether `applied` renders are valid for the current parameters.
    private var rendersValid = true
    /// On a first install, how many service ports' chains go into one staging restore; 0
    /// writes a first install in one restore (the backend sets it from the tools' backend:
    /// staging only helps the nf_tables-based iptables-restore).
    public var firstInstallBatch = 100

    /// Creates a state; the first sync is full.
    public init(parameters: IPTablesModeParameters) {
        renderer = IPTablesModeRenderer(parameters: parameters)
    }

    /// Replaces the parameters (node labels, node addresses, flags). A change re-renders
    /// everything in a full sync.
    public mutating func update(parameters: IPTablesModeParameters) {
        guard parameters != renderer.parameters else { return }
        renderer.parameters = parameters
        rendersValid = false
        needsFullSync = true
    }

    /// Makes the next sync full (canary chain vanished, periodic full resync).
    public mutating func requestFullSync() {
        needsFullSync = true
    }

    /// The restore that brings the kernel from the last applied state to `snapshot`.
    ///
    /// - Parameters:
    ///   - snapshot: the desired service ports and endpoints, of this state's family.
    ///   - current: the parsed `iptables-save` of the family, read for full syncs: its jumps
    ///     decide which built-in-chain jumps are inserted, its nat chains which per-service
    ///     chains are stale, and its chains which are already as rendered (adopted, not
    ///     written). `nil` means "not read": on a full sync every chain is written and every
    ///     jump inserted (right for a fresh namespace only), and stale chains come from this
    ///     state alone.
    ///   - forceFullSync: make this sync full even if the state does not need one.
    public func plan(snapshot: ProxySnapshot, current: IPTablesRuleSet? = nil, forceFullSync: Bool = false) -> IPTablesModeSyncPlan {
        let full = needsFullSync || forceFullSync
        let large = renderer.isLargeCluster(snapshot)
        // A full sync over existing rules writes only the chains the kernel does not already
        // hold exactly (leaving one in place is replacing it with itself).
        let adoption = full ? current.map { IPTablesModeAdoption(current: $0, family: renderer.parameters.family) } : nil
        func mustWrite(_ chain: IPTablesChain, in table: String) -> Bool {
            adoption.map { !$0.holds(chain, in: table) } ?? true
        }
        // Per-service chains to write, per rewritten port.
        var written: [ServicePortName: [IPTablesChain]] = [:]
        var next: [ServicePortName: Entry] = [:]
        next.reserveCapacity(snapshot.servicePorts.count)
        var ordered: [Entry] = []
        ordered.reserveCapacity(snapshot.servicePorts.count)
        var rewritten: [ServicePortName] = []
        // Chain names embed the service port's hash, so ports never share chains: a port's
        // stale chains are those its last applied render had and its new one lacks, and only
        // re-rendered or removed ports can have any (O(changes) on a partial sync).
        var stale = Set<String>()
        // Whether any port's rules in the top-level chains may differ from the applied ones:
        // when none does, the top level is what the kernel holds and is neither rebuilt nor
        // compared (a one-endpoint change then plans in O(changed ports), not O(services)).
        var topLevelMayChange = full || !rendersValid || appliedTopLevel.isEmpty
        for port in snapshot.sortedServicePorts {
            let endpoints = snapshot.endpoints(for: port.name)
            let old = rendersValid ? applied[port.name] : nil
            let entry: Entry
            // Crossing the large-cluster threshold alone re-renders only in a full sync, as
            // upstream: unchanged services keep their comments until they change.
            if let old, old.port == port, old.endpoints == endpoints, !full || old.largeClusterMode == large {
                entry = old
            } else {
                let rules = renderer.servicePortRules(port, endpoints: endpoints, largeClusterMode: large)
                entry = Entry(port: port, endpoints: endpoints, largeClusterMode: large, rules: rules)
                if old?.rules.natRules != rules.natRules || old?.rules.filterRules != rules.filterRules {
                    topLevelMayChange = true
                }
            }
            let previous = applied[port.name]?.rules.chains ?? []
            if full {
                // The render's own array when every chain is written (a first install): at 10k
                // Services a filtered copy per port is 13 MB more at the sync's peak.
                let chains = Self.subset(of: entry.rules.chains) { mustWrite($0, in: "nat") }
                if !chains.isEmpty {
                    rewritten.append(port.name)
                    written[port.name] = chains
                }
            } else if entry.rules.chains != previous {
                rewritten.append(port.name)
                written[port.name] = entry.rules.chains
            }
            if !previous.isEmpty, entry.rules.chains != previous {
                stale.formUnion(Set(previous.map(\.name)).subtracting(entry.rules.chains.map(\.name)))
            }
            next[port.name] = entry
            ordered.append(entry)
        }
        for (name, entry) in applied where next[name] == nil {
            stale.formUnion(entry.rules.chains.map(\.name))
            topLevelMayChange = true
        }
        if full, let nat = current?.table(named: "nat") {
            var active = Set<String>()
            for entry in ordered { for chain in entry.rules.chains { active.insert(chain.name) } }
            for chain in nat.chains where IPTablesModeChain.isServiceChain(chain.name) && !active.contains(chain.name) {
                stale.insert(chain.name)
            }
        }
        let staleChains = stale.sorted()

        let services = ordered.map(\.rules)
        let filter = topLevelMayChange ? renderer.filterSkeleton(services) : appliedTable("filter")
        let natTop = topLevelMayChange ? renderer.natSkeleton(services) : appliedTable("nat")

        // Top-level chains whose rules are what the kernel holds need no rewrite outside full
        // syncs: nothing in this restore can change what they refer to (stale chains are
        // referred to only by chains that changed).
        var nextTopLevel: [String: IPTablesChain] = [:]
        func changed(_ table: IPTablesTable) -> [IPTablesChain] {
            table.chains.filter { chain in
                let key = "\(table.name) \(chain.name)"
                nextTopLevel[key] = chain
                return full ? mustWrite(chain, in: table.name) : !rendersValid || appliedTopLevel[key] != chain
            }
        }
        let filterWritten = changed(filter)
        let natTopWritten = changed(natTop)

        var filterCommands = filterWritten.map { IPTablesCommand.declareChain(name: $0.name, policy: nil) }
        filterCommands += filterWritten.flatMap { $0.rules.map(IPTablesCommand.append) }
        // Chains the kernel does not have yet change no packet's fate until something jumps to
        // them (no rule can refer to a chain that does not exist), so on a full sync they are
        // created in staging restores of `firstInstallBatch` service ports, and the restore that
        // makes them reachable (top-level chains, changed per-service chains, stale chains,
        // jumps) stays one atomic switch. The nf_tables-based iptables-restore 1.8.x spends time
        // quadratic in the chains one restore names (a sorted linked list of chain names); at
        // 10k Services one restore of 110k chains took 354 s here, 100 staging restores 7 s.
        // This is the whole first install, and on a restart the services created meanwhile.
        // Batches hold the per-port arrays themselves (shared with `next`), not a flattened copy.
        var stagingBatches: [[[IPTablesChain]]] = []
        // The per-service chains of the final restore: all rewritten ones unless staged.
        var stagedFinalChains: [IPTablesChain]?
        if full, firstInstallBatch > 0, let adoption {
            let perPort = rewritten.map { Self.subset(of: written[$0] ?? []) { !adoption.contains($0.name, in: "nat") } }
                .filter { !$0.isEmpty }
            if perPort.count > firstInstallBatch {
                // The one top-level chain per-service rules jump to must exist in the first batch.
                var carried = natTop.chains.filter {
                    $0.name == IPTablesModeChain.markMasquerade && !adoption.contains($0.name, in: "nat")
                }
                for start in stride(from: 0, to: perPort.count, by: firstInstallBatch) {
                    let ports = perPort[start..<min(start + firstInstallBatch, perPort.count)]
                    stagingBatches.append((carried.isEmpty ? [] : [carried]) + ports)
                    carried = []
                }
                stagedFinalChains = rewritten.flatMap { (written[$0] ?? []).filter { adoption.contains($0.name, in: "nat") } }
            }
        }
        let finalChains = stagedFinalChains ?? rewritten.flatMap { written[$0] ?? [] }

        var natCommands = natTopWritten.map { IPTablesCommand.declareChain(name: $0.name, policy: nil) }
        natCommands += finalChains.map { IPTablesCommand.declareChain(name: $0.name, policy: nil) }
        natCommands += staleChains.map { IPTablesCommand.declareChain(name: $0, policy: nil) }
        natCommands += natTopWritten.flatMap { $0.rules.map(IPTablesCommand.append) }
        natCommands += finalChains.flatMap { $0.rules.map(IPTablesCommand.append) }
        natCommands += staleChains.map(IPTablesCommand.deleteChain)
        var sections = [
            IPTablesRestoreScript.Section(table: "filter", commands: filterCommands),
            IPTablesRestoreScript.Section(table: "nat", commands: natCommands),
        ]
        if full {
            for jump in missingJumps(in: current) {
                let index = jump.table == "filter" ? 0 : 1
                sections[index].commands.append(.insert(jump.rule, position: 1))
            }
            // The canary is empty and unreferenced; declaring it again would be harmless, but
            // one that is there needs no restore.
            sections.append(.init(table: "mangle", commands: []))
            for (index, table) in ["filter", "nat", "mangle"].enumerated()
            where adoption?.contains(IPTablesModeChain.canary, in: table) != true {
                sections[index].commands.append(.declareChain(name: IPTablesModeChain.canary, policy: nil))
            }
        }

        let natTopRules = natTop.chains.reduce(0) { $0 + $1.rules.count }
        let counts = IPTablesModeCounts(
            filterRules: filter.chains.reduce(0) { $0 + $1.rules.count },
            filterRulesWritten: filterWritten.reduce(0) { $0 + $1.rules.count },
            natRulesTotal: natTopRules + services.reduce(0) { $0 + $1.chainRuleCount },
            natRulesWritten: natTopWritten.reduce(0) { $0 + $1.rules.count }
                + rewritten.reduce(0) { total, name in (written[name] ?? []).reduce(total) { $0 + $1.rules.count } },
            restoreLines: stagingBatches.reduce(0) { lines, batch in
                batch.joined().reduce(lines + 2) { $0 + 1 + $1.rules.count }
            } + sections.reduce(0) { $0 + ($1.commands.isEmpty ? 0 : $1.commands.count + 2) },
            noLocalEndpointsInternal: services.count(where: \.noLocalEndpointsInternal),
            noLocalEndpointsExternal: services.count(where: \.noLocalEndpointsExternal))
        return IPTablesModeSyncPlan(
            isFullSync: full, stagingBatches: stagingBatches, script: IPTablesRestoreScript(sections: sections), largeClusterMode: large,
            rewrittenServicePorts: rewritten, staleChains: staleChains, counts: counts, next: next, nextTopLevel: nextTopLevel)
    }

    /// The chains of `chains` that satisfy `include`: `chains` itself (no copy) when all do.
    private static func subset(of chains: [IPTablesChain], where include: (IPTablesChain) -> Bool) -> [IPTablesChain] {
        chains.allSatisfy(include) ? chains : chains.filter(include)
    }

    /// The applied top-level chains of `table` (for a sync in which none can change).
    private func appliedTable(_ table: String) -> IPTablesTable {
        let prefix = table + " "
        let chains = appliedTopLevel.filter { $0.key.hasPrefix(prefix) }.map(\.value).sorted { $0.name < $1.name }
        return IPTablesTable(name: table, chains: chains)
    }

    /// Records that `plan`'s restore succeeded: the kernel now holds its chains.
    public mutating func didApply(_ plan: IPTablesModeSyncPlan) {
        applied = plan.next
        appliedTopLevel = plan.nextTopLevel
        rendersValid = true
        if plan.isFullSync { needsFullSync = false }
    }

    /// Records that `plan`'s restore failed: nothing of it is in the kernel (restores are
    /// atomic), and the next sync is full.
    public mutating func didFail(_ plan: IPTablesModeSyncPlan) {
        needsFullSync = true
    }

    /// The jumps of `renderer.jumpRules()` that `current` lacks, compared structurally (in
    /// iptables-save's argument order); all of them when `current` is `nil`.
    func missingJumps(in current: IPTablesRuleSet?) -> [IPTablesModeRenderer.Jump] {
        renderer.jumpRules().filter { jump in
            guard let current else { return true }
            let wanted = jump.rule.saveOrdered.arguments
            return !current.rules(in: jump.rule.chain, table: jump.table).contains { $0.saveOrdered.arguments == wanted }
        }
    }
}
