import KubeAPI
import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import Logging

/// What one iptables-mode sync programs: the snapshot (rendered in `apply`, where the
/// `iptables-save` a full sync needs can be read) and the UDP ports for conntrack cleanup.
///
/// The golden-testable value is `IPTablesModeState.plan(…)`'s `IPTablesModeSyncPlan`; this
/// plan only carries its inputs across the loop's pure/IO boundary.
public struct IPTablesBackendPlan: Sendable {
    /// The desired state.
    public var snapshot: ProxySnapshot
    /// UDP service ports whose endpoints or port went away in this sync.
    public var staleUDPServicePorts: Set<ServicePortName>
}

/// iptables mode (spec §2): upstream's chains, written with one
/// `iptables-restore -w 5 -W 100000 --noflush --counters` per sync for the loop's family.
///
/// Partial syncs rewrite only changed services' chains (`IPTablesModeState`); a failed restore
/// makes the next sync full. Every `canaryInterval` (the sync period) it reads the tables and,
/// when the `KUBE-PROXY-CANARY` chain is gone from mangle, nat or filter (a firewall reload
/// flushed them), waits up to 5 s for it to be gone from all three (the reload may still be
/// flushing) and forces a full sync, which re-creates everything including the jumps from
/// built-in chains. A full sync also runs at least every `fullSyncPeriod` (upstream's hourly
/// `FullSyncPeriod`). Rules stay in place at shutdown, so a restart takes them over with no
/// window without rules: its first (full) sync adopts the chains that already hold what it
/// would write and replaces the others in one atomic restore. `start` probes the tools'
/// version once, for `--random-fully`.
public actor IPTablesBackend: ProxyBackend {
    private var state: IPTablesModeState
    private let executor: any IPTablesExecutor
    private let family: IPFamily
    private let canaryInterval: Duration
    private let fullSyncPeriod: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let nodeAddresses: (@Sendable () -> Set<IPAddress>)?
    private let logger: Logger
    /// `--detect-local-mode`, for taking pod CIDRs from the Node (`NodeCIDR`).
    private let detectLocalMode: String
    /// How long a partial flush is waited on, and how often the canaries are read meanwhile.
    private let flushTimeout: Duration
    private let flushPollInterval: Duration
    private let sleep: @Sendable (Duration) async -> Void
    /// Called once when the kernel refuses the `-m nfacct` match (the counters stop being exported).
    private let nfacctRefused: (@Sendable () -> Void)?
    private var lastCanaryCheck: ContinuousClock.Instant?
    private var lastFullSync: ContinuousClock.Instant?

    /// Creates the backend.
    /// - Parameters:
    ///   - parameters: the renderer's parameters (family, node, flags, kernel capabilities).
    ///   - executor: runs `iptables-save` / `iptables-restore` (a `FakeIPTables` in tests).
    ///   - canaryInterval: how often the canary chains are checked (`--iptables-sync-period`).
    ///   - fullSyncPeriod: the longest time between full syncs.
    ///   - now: the clock the two periods are measured with.
    ///   - nodeAddresses: this node's addresses, read before each sync when
    ///     `--nodeport-addresses` selects addresses (a change re-renders in a full sync).
    ///   - detectLocalMode: `--detect-local-mode`; with `NodeCIDR` the detector follows the
    ///     Node's pod CIDRs (`nodeChanged`).
    ///   - flushTimeout: how long to wait for every canary to vanish once one did (5 s).
    ///   - flushPollInterval: how often the canaries are read meanwhile (100 ms).
    ///   - sleep: how the backend waits between those reads (tests pass one that does not).
    ///   - nfacctRefused: called when a restore fails on the `-m nfacct` match and the rules
    ///     drop it (see `apply`).
    public init(
        parameters: IPTablesModeParameters, executor: any IPTablesExecutor, canaryInterval: Duration = .seconds(30),
        fullSyncPeriod: Duration = .seconds(3600), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        nodeAddresses: (@Sendable () -> Set<IPAddress>)? = nil, detectLocalMode: String = "",
        flushTimeout: Duration = .seconds(5), flushPollInterval: Duration = .milliseconds(100),
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
        nfacctRefused: (@Sendable () -> Void)? = nil, logger: Logger
    ) {
        self.nfacctRefused = nfacctRefused
        self.flushTimeout = flushTimeout
        self.flushPollInterval = flushPollInterval
        self.sleep = sleep
        state = IPTablesModeState(parameters: parameters)
        self.executor = executor
        family = parameters.family
        self.canaryInterval = canaryInterval
        self.fullSyncPeriod = fullSyncPeriod
        self.now = now
        self.nodeAddresses = nodeAddresses
        self.detectLocalMode = detectLocalMode
        self.logger = logger
    }

    /// Fails when this family's iptables cannot be managed here (tools missing, not root);
    /// otherwise probes the tools' version once, for `MASQUERADE --random-fully` (≥ 1.6.2, as
    /// upstream; an unknown version leaves it out, logged here once).
    public func start() async throws {
        guard executor.isAvailable(family: family) else {
            throw KubeProxyConfiguration.Problem(
                field: "--proxy-mode",
                message: "iptables mode needs root and \(SystemIPTables.restoreTool(family)) / \(SystemIPTables.saveTool(family))")
        }
        let version = await executor.version(family: family)
        var parameters = state.renderer.parameters
        parameters.randomFully = version?.supportsRandomFully ?? false
        if let version {
            logger.info(
                "iptables version", metadata: ["family": "\(family)", "version": "\(version)", "randomFully": "\(parameters.randomFully)"])
        } else {
            logger.warning(
                "cannot tell the iptables version; masquerading without --random-fully", metadata: ["family": "\(family)"])
        }
        state.update(parameters: parameters)
        // Staging a first install pays off with the nf_tables tools only (their cost is
        // quadratic in the chains one restore names); the legacy ones rewrite the whole table
        // in every restore, so there one restore is cheapest.
        state.firstInstallBatch = version?.backend == "nf_tables" ? 100 : 0
    }

    public func plan(snapshot: ProxySnapshot, delta: SyncDelta) -> IPTablesBackendPlan {
        IPTablesBackendPlan(snapshot: snapshot, staleUDPServicePorts: delta.staleUDPServicePorts(in: snapshot))
    }

    public func apply(_ plan: IPTablesBackendPlan) async -> SyncOutcome {
        let started = now()
        // Our time and the tools' time apart: they are tuned in different places.
        let clock = ContinuousClock()
        var saveTime = Duration.zero
        var parseTime = Duration.zero
        refreshNodeAddresses()
        var current: IPTablesRuleSet?
        let periodic = lastFullSync.map { started - $0 >= fullSyncPeriod } ?? true
        if !state.needsFullSync, lastCanaryCheck.map({ started - $0 >= canaryInterval }) ?? true {
            do {
                // The check needs the canary declarations only: parsing a 10k-Service table's
                // rules every sync period cost ≈ 100 MB of heap and seconds. A periodic full
                // sync in the same round needs the rules, so it parses them here once.
                let missing: [String]
                if periodic {
                    let tables = try await read(clock, &saveTime, &parseTime)
                    current = tables
                    missing = Self.missingCanaries(tables)
                } else {
                    let text = try await timed(clock, &saveTime) { try await executor.save(family: family) }
                    missing = timedSync(clock, &parseTime) {
                        let present = IPTablesRuleSet.tables(declaring: IPTablesModeChain.canary, inSave: text)
                        return Self.canaryTables.filter { !present.contains($0) }
                    }
                }
                lastCanaryCheck = started
                if !missing.isEmpty {
                    if missing.count < Self.canaryTables.count {
                        current = try await waitForFlush(clock, &saveTime, &parseTime)
                    }
                    logger.info(
                        "canary chain gone, iptables was flushed: full resync",
                        metadata: ["family": "\(family)", "tables": "\(missing.joined(separator: ","))"])
                    state.requestFullSync()
                }
            } catch {
                return failure("reading iptables for the canary check failed: \(error)", kind: .partial, plan: plan)
            }
        }
        let full = state.needsFullSync || periodic
        if full && current == nil {
            do {
                current = try await read(clock, &saveTime, &parseTime)
            } catch {
                return failure("reading iptables for a full sync failed: \(error)", kind: .full, plan: plan)
            }
        }
        let planStart = clock.now
        let modePlan = state.plan(snapshot: plan.snapshot, current: full ? current : nil, forceFullSync: periodic)
        // The parsed iptables-save (at 10k Services as large as the render) is not needed once
        // the plan has decided what to adopt: free it before the restores run.
        current = nil
        // Staging texts are written one at a time while they run: together they are the whole
        // first install (≈ 40 MB at 10k Services).
        let text = modePlan.text
        var planTime = planStart.duration(to: clock.now)
        let kind: SyncOutcome.Kind = modePlan.isFullSync ? .full : .partial
        var restoreTime = Duration.zero
        do {
            for index in 0..<modePlan.stagingScriptCount {
                let textStart = clock.now
                let staging = modePlan.stagingScript(at: index).text
                planTime += textStart.duration(to: clock.now)
                try await timed(clock, &restoreTime) { try await executor.restore(staging, family: family) }
            }
            // Nothing changed: no process to start.
            if !text.isEmpty { try await timed(clock, &restoreTime) { try await executor.restore(text, family: family) } }
        } catch {
            state.didFail(modePlan)
            logger.error(
                "iptables-restore failed; the next sync is full",
                metadata: ["family": "\(family)", "full": "\(modePlan.isFullSync)", "error": "\(error)"])
            dropNFAcctIfRefused(error)
            var failures: [SyncOutcome.RuleFacts.Failure] = [.restore]
            if !modePlan.isFullSync { failures.append(.partialRestore) }
            return SyncOutcome(
                result: .failed(reason: "iptables-restore failed: \(error)"), kind: kind,
                staleUDPServicePorts: plan.staleUDPServicePorts, ruleFacts: .init(failures: failures))
        }
        state.didApply(modePlan)
        if modePlan.isFullSync {
            lastFullSync = started
            lastCanaryCheck = started
        }
        // planMs and parseMs are ours (render, diff, text; parsing iptables-save's output),
        // saveMs and restoreMs are iptables-save's and iptables-restore's, process start to exit.
        logger.debug(
            "iptables sync",
            metadata: [
                "family": "\(family)", "full": "\(modePlan.isFullSync)", "restoreLines": "\(modePlan.counts.restoreLines)",
                "servicePortsRewritten": "\(modePlan.rewrittenServicePorts.count)", "staleChains": "\(modePlan.staleChains.count)",
                "largeCluster": "\(modePlan.largeClusterMode)", "planMs": "\(Self.milliseconds(planTime))",
                "restores": "\(modePlan.stagingScriptCount + (text.isEmpty ? 0 : 1))",
                "saveMs": "\(Self.milliseconds(saveTime))", "parseMs": "\(Self.milliseconds(parseTime))",
                "restoreMs": "\(Self.milliseconds(restoreTime))",
            ])
        let counts = modePlan.counts
        return SyncOutcome(
            result: .succeeded, kind: kind, staleUDPServicePorts: plan.staleUDPServicePorts,
            ruleFacts: .init(
                rulesPerTable: ["filter": counts.filterRules, "nat": counts.natRulesTotal],
                rulesWrittenPerTable: ["filter": counts.filterRulesWritten, "nat": counts.natRulesWritten]))
    }

    /// Rules stay in place: a restarted proxy continues from them.
    public func shutdown(drainTimeout: Duration) async {}

    /// Takes the node's zone label (topology hints) and, with `--detect-local-mode=NodeCIDR`,
    /// its pod CIDRs; a change re-renders everything in the next sync, which is full.
    public func nodeChanged(_ node: Node?) {
        var parameters = state.renderer.parameters
        parameters.topology.zone = node?.metadata.labels?[WellKnownLabels.topologyZone]
        if detectLocalMode == "NodeCIDR" {
            let cidrs = node?.spec?.podCIDRs ?? node?.spec?.podCIDR.map { [$0] } ?? []
            parameters.localDetector =
                (try? LocalTrafficDetector.make(mode: "NodeCIDR", clusterCIDR: "", nodePodCIDRs: cidrs, family: family)) ?? .none
        }
        state.update(parameters: parameters)
    }

    /// Removes iptables mode's chains and jumps from both families (see `IPTablesModeCleanup`).
    public static func cleanup(logger: Logger) async throws {
        var failures: [String] = []
        for family in IPFamily.allCases {
            let executor = SystemIPTables(logger: logger)
            guard executor.runner.locate(SystemIPTables.saveTool(family)) != nil else { continue }
            do {
                try await cleanup(executor: executor, family: family, logger: logger)
            } catch {
                logger.error("cleanup failed", metadata: ["family": "\(family)", "error": "\(error)"])
                failures.append("\(family): \(error)")
            }
        }
        if !failures.isEmpty {
            throw KubeProxyConfiguration.Problem(field: "--cleanup", message: failures.joined(separator: "; "))
        }
    }

    /// One family's cleanup through `executor`; runs nothing when nothing of ours is there.
    public static func cleanup(executor: any IPTablesExecutor, family: IPFamily, logger: Logger) async throws {
        let current = try IPTablesRuleSet(parsingSave: try await executor.save(family: family))
        let script = IPTablesModeCleanup.script(current: current)
        guard !script.isEmpty else { return }
        try await executor.restore(script.text, family: family)
        logger.info("cleanup: removed iptables-mode chains and jumps", metadata: ["family": "\(family)"])
    }

    /// Whether the next sync is full (for tests and logs).
    public var needsFullSync: Bool { state.needsFullSync }

    /// The tables holding a canary chain, in upstream's order.
    static let canaryTables = ["mangle", "nat", "filter"]

    /// The canary tables of `tables` that lack the canary chain.
    static func missingCanaries(_ tables: IPTablesRuleSet) -> [String] {
        canaryTables.filter { tables.chain(IPTablesModeChain.canary, in: $0) == nil }
    }

    /// A firewall reload flushes the tables one after the other: resyncing when the first is
    /// gone would be undone by the next flush. As upstream (spec §2.9), waits until every
    /// canary is gone, polling every `flushPollInterval`, for at most `flushTimeout`, and
    /// returns the last tables read (a timeout is logged and the resync happens anyway).
    private func waitForFlush(
        _ clock: ContinuousClock, _ saveTime: inout Duration, _ parseTime: inout Duration
    ) async throws -> IPTablesRuleSet {
        var waited = Duration.zero
        var tables = try await read(clock, &saveTime, &parseTime)
        while !Self.missingCanaries(tables).elementsEqual(Self.canaryTables), waited < flushTimeout, !Task.isCancelled {
            await sleep(flushPollInterval)
            waited += flushPollInterval
            tables = try await read(clock, &saveTime, &parseTime)
        }
        if !Self.missingCanaries(tables).elementsEqual(Self.canaryTables) {
            logger.info(
                "inconsistent iptables state: some canary chains survived the flush",
                metadata: ["family": "\(family)", "waitedMs": "\(Self.milliseconds(waited))"])
        }
        return tables
    }

    /// Runs `body` and adds its wall time to `total`, also when it throws.
    private func timed<T>(
        _ clock: ContinuousClock, _ total: inout Duration, _ body: () async throws -> T
    ) async rethrows -> T {
        let start = clock.now
        defer { total += start.duration(to: clock.now) }
        return try await body()
    }

    /// A duration in milliseconds with two decimals, for logs.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let hundredths = seconds * 100_000 + attoseconds / 10_000_000_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// This family's tables, adding `iptables-save`'s wall time to `saveTime` and our parsing's
    /// to `parseTime` (at 10k Services both are seconds, and they are tuned in different places).
    private func read(
        _ clock: ContinuousClock, _ saveTime: inout Duration, _ parseTime: inout Duration
    ) async throws -> IPTablesRuleSet {
        let text = try await timed(clock, &saveTime) { try await executor.save(family: family) }
        return try timedSync(clock, &parseTime) { try IPTablesRuleSet(parsingSave: text) }
    }

    /// `timed` for synchronous work.
    private func timedSync<T>(_ clock: ContinuousClock, _ total: inout Duration, _ body: () throws -> T) rethrows -> T {
        let start = clock.now
        defer { total += start.duration(to: clock.now) }
        return try body()
    }

    private func refreshNodeAddresses() {
        guard let nodeAddresses, !state.renderer.parameters.nodePortAddresses.matchesAll else { return }
        var parameters = state.renderer.parameters
        parameters.localAddresses = nodeAddresses().filter { $0.family == family }
        state.update(parameters: parameters)
    }

    /// A kernel can have the nfacct objects (nfnetlink_acct) but not the iptables match
    /// (xt_nfacct): then every restore fails on the `-m nfacct` rules ("Extension nfacct revision
    /// 0 not supported", "Couldn't load match `nfacct'") and, restores being atomic, nothing is
    /// programmed at all. Upstream stays broken there; we render without the match from the
    /// next (full) sync on, stop exporting the counters, and say so once.
    private func dropNFAcctIfRefused(_ error: any Error) {
        guard state.renderer.parameters.nfacctAvailable, let error = error as? HostError,
            error.stderrTail.contains("nfacct")
        else { return }
        var parameters = state.renderer.parameters
        parameters.nfacctAvailable = false
        state.update(parameters: parameters)
        nfacctRefused?()
        logger.error(
            "iptables-restore refused the nfacct match (kernel without xt_nfacct?): rules are written without -m nfacct and the nfacct counters are no longer exported",
            metadata: ["family": "\(family)"])
    }

    private func failure(_ reason: String, kind: SyncOutcome.Kind, plan: IPTablesBackendPlan) -> SyncOutcome {
        logger.error("iptables sync failed", metadata: ["family": "\(family)", "reason": "\(reason)"])
        return SyncOutcome(result: .failed(reason: reason), kind: kind, staleUDPServicePorts: plan.staleUDPServicePorts)
    }
}

extension IPTablesBackend {
    /// The backend for `context` (`--proxy-mode=iptables`): parameters from the configuration
    /// and the host (nfacct when `context.nfacctMetrics` exists), upstream's restore
    /// flags, `route_localnet` set when localhost NodePorts are on. `executor` replaces the
    /// system tools (tests check what the flags render without touching the host's tables).
    static func make(_ context: BackendContext, executor: (any IPTablesExecutor)? = nil) throws -> IPTablesBackend {
        let configuration = context.configuration
        let family = context.family
        let logger = context.logger.child(family == .ipv4 ? "iptables" : "ip6tables")
        let common = try context.kernelModeOptions(
            masqueradeBit: configuration.iptables.masqueradeBit, masqueradeAll: configuration.iptables.masqueradeAll,
            nodePortAddresses: configuration.nodePortAddresses, logger: logger)
        let parameters = IPTablesModeParameters(
            common, localhostNodePorts: configuration.iptables.localhostNodePorts,
            conntrackTCPBeLiberal: (Sysctl.read("net.netfilter.nf_conntrack_tcp_be_liberal") ?? "0") != "0",
            nfacctAvailable: context.nfacctMetrics != nil)
        if parameters.effectiveLocalhostNodePorts {
            do {
                try Sysctl.write("net.ipv4.conf.all.route_localnet", value: "1")
            } catch {
                logger.error("cannot enable route_localnet; localhost NodePorts will not work", metadata: ["error": "\(error)"])
            }
        }
        var system = SystemIPTables(logger: logger)
        system.restoreArguments = ["-w", "5", "-W", "100000", "--noflush", "--counters"]
        let nfacctMetrics = context.nfacctMetrics
        return IPTablesBackend(
            parameters: parameters, executor: executor ?? system, canaryInterval: configuration.syncPeriod,
            nodeAddresses: { (try? LocalAddresses.current()) ?? [] }, detectLocalMode: configuration.detectLocalMode,
            nfacctRefused: { nfacctMetrics?.disable() }, logger: logger)
    }
}

extension IPTablesBackend {
    /// Creates the nfacct objects iptables mode counts into (`IPTablesModeNFAcct.all`), once per
    /// process before the backends are made: the objects belong to the network namespace, so
    /// both families' rules share them. Returns whether both exist; when not, logs one line
    /// saying why and what is left out (the `-m nfacct` matches and the two metrics), as
    /// upstream runs without them where the kernel lacks nfnetlink_acct or we lack
    /// `CAP_NET_ADMIN`.
    static func ensureNFAcctObjects(_ client: any NFAcctClient, logger: Logger) -> Bool {
        for name in IPTablesModeNFAcct.all {
            do {
                try client.ensure(name)
            } catch {
                logger.warning(
                    "nfacct counters unavailable: rules are written without -m nfacct and \(MetricNames.iptablesCTStateInvalidDroppedPacketsTotal), \(MetricNames.iptablesLocalhostNodePortsAcceptedPacketsTotal) are not exported",
                    metadata: ["counter": "\(name)", "error": "\(error)"])
                return false
            }
        }
        logger.info("nfacct counters ready", metadata: ["counters": "\(IPTablesModeNFAcct.all.joined(separator: ","))"])
        return true
    }
}

extension ProxyMetrics {
    /// iptables mode's metrics from one sync's outcome (spec §7.1): full/partial duration,
    /// rule counts per table, restore failures.
    func recordIPTables(_ outcome: SyncOutcome, family: IPFamily, duration: Duration) {
        guard let facts = outcome.ruleFacts else { return }
        if outcome.isProgrammed {
            kernelSyncCompleted(full: outcome.kind == .full, duration: duration, family: family)
            iptablesRules(owned: facts.rulesPerTable, written: facts.rulesWrittenPerTable, family: family)
        }
        if facts.failures.contains(.restore) {
            iptablesRestoreFailed(partial: facts.failures.contains(.partialRestore), family: family)
        }
    }
}
