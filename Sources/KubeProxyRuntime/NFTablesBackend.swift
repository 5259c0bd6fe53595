import KubeAPI
import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import Logging
import Synchronization

/// What one nftables sync programs: the desired table content and what changed since the last
/// sync. The transactions themselves are planned in `apply`, against what the kernel holds at
/// that moment (a full sync after a failure re-reads the table first).
public struct NFTablesPlan: Sendable, Hashable {
    /// The desired content of the family's `kube-proxy` table.
    public var ruleset: NFTRuleset
    /// Service ports whose Service or endpoints changed (their chains are rewritten).
    public var changed: Set<ServicePortName>
    /// UDP service ports whose endpoints or port went away (reported in the outcome).
    public var staleUDPServicePorts: Set<ServicePortName>
}

/// nftables mode (spec §3): one `ip`/`ip6` `kube-proxy` table per family, written with one
/// atomic `nft -f -` transaction per sync that touches only what changed.
///
/// Owns the renderer options and the `NFTKernelState` (what the kernel holds), which advances
/// only by transactions that succeeded. A failed transaction forces a full sync that first
/// re-reads the table; a failed stale-chain deletion only counts a clean-up failure and is
/// retried later. Rules stay in place at shutdown, so a restart continues from them.
public actor NFTablesBackend: ProxyBackend {
    private var renderCache: NFTRenderCache
    private let executor: any NFTablesExecutor
    private var options: NFTRenderOptions
    /// `detectLocalMode: NodeCIDR`: the detector follows the Node's pod CIDRs.
    private let detectsByNodeCIDR: Bool
    private let now: @Sendable () -> Duration
    private let logger: Logger
    private var state: NFTKernelState
    private var needsFullSync = true
    private var needsListing = true
    /// Service ports changed by planned syncs that have not been applied yet: a later plan
    /// carries them too, so a plan that never ran loses nothing.
    private var unapplied: Set<ServicePortName> = []

    /// The table name, as upstream.
    public static let table = NFTTransaction.defaultTable

    /// Creates the backend. `now` is monotonic time from any fixed origin (stale-chain ageing).
    public init(
        options: NFTRenderOptions, executor: any NFTablesExecutor, detectsByNodeCIDR: Bool = false,
        now: @escaping @Sendable () -> Duration = NFTablesBackend.monotonicNow,
        logger: Logger
    ) {
        self.renderCache = NFTRenderCache(renderer: NFTRenderer(options: options))
        self.executor = executor
        self.options = options
        self.detectsByNodeCIDR = detectsByNodeCIDR
        self.now = now
        self.logger = logger
        self.state = NFTKernelState(family: NFTFamily(options.family))
    }

    /// `ContinuousClock` time since the first call in this process.
    public static let monotonicNow: @Sendable () -> Duration = {
        let origin = ContinuousClock.now
        return { origin.duration(to: ContinuousClock.now) }
    }()

    /// What this backend believes the kernel holds (for tests).
    public var kernelState: NFTKernelState { state }

    /// Reads the table a previous run left, so the first sync only adds what is missing.
    public func start() async throws {
        guard executor.isAvailable() else {
            throw KubeProxyConfiguration.Problem(
                field: "--proxy-mode", message: "nftables mode needs the nft tool (package nftables) and root privileges")
        }
        await readKernel()
    }

    public func plan(snapshot: ProxySnapshot, delta: SyncDelta) -> NFTablesPlan {
        unapplied.formUnion(delta.addedServicePorts)
        unapplied.formUnion(delta.changedServicePorts)
        unapplied.formUnion(delta.removedServicePorts.keys)
        unapplied.formUnion(delta.endpointsChanged)
        let setless = NFTRenderOptions.setlessBalancing(
            servicePorts: snapshot.servicePorts.count, current: options.setlessBalancing)
        if setless != options.setlessBalancing {
            // Every service chain's balancing rule changes form: a full sync rewrites them.
            options.setlessBalancing = setless
            renderCache = NFTRenderCache(renderer: NFTRenderer(options: options))
            needsFullSync = true
            logger.info(
                "nftables balancing form changed with the cluster's size",
                metadata: [
                    "servicePorts": "\(snapshot.servicePorts.count)",
                    "form": "\(setless ? "one numgen rule per endpoint" : "numgen verdict map")",
                ])
        }
        // A full sync (start, after a failure or an option change) compares every port.
        let ruleset = renderCache.render(snapshot, changed: needsFullSync ? nil : unapplied)
        return NFTablesPlan(ruleset: ruleset, changed: unapplied, staleUDPServicePorts: delta.staleUDPServicePorts(in: snapshot))
    }

    public func apply(_ plan: NFTablesPlan) async -> SyncOutcome {
        if needsListing { await readKernel() }
        let full = needsFullSync
        let clock = ContinuousClock()
        let planStart = clock.now
        let sync = state.plan(plan.ruleset, changed: plan.changed, full: full, now: now())
        let planTime = planStart.duration(to: clock.now)
        var nftTime = Duration.zero
        var textTimeTotal = Duration.zero
        var failures: [SyncOutcome.RuleFacts.Failure] = []
        if !sync.main.isEmpty {
            do {
                // Streamed into nft's stdin pipe: the text of a full sync is never one String.
                // Timed apart: `textMs` is producing the text, which nft reads while it comes
                // (a full pipe makes us wait for it), and `nftMs` what nft takes after the last
                // byte (its parse of what is left, and the kernel's commit).
                let main = sync.main
                let textTime = Mutex(Duration.zero)
                let nftStart = clock.now
                try await executor.run(streaming: { emit in
                    let textStart = ContinuousClock.now
                    try main.writeText(emit)
                    textTime.withLock { $0 = textStart.duration(to: .now) }
                })
                textTimeTotal = textTime.withLock { $0 }
                nftTime = nftStart.duration(to: clock.now) - textTimeTotal
            } catch {
                logger.error("nftables sync failed; the next sync is a full one", metadata: ["error": "\(error)"])
                needsFullSync = true
                needsListing = true
                return SyncOutcome(
                    result: .failed(reason: "nft transaction failed: \(error)"), kind: full ? .full : .partial,
                    ruleFacts: SyncOutcome.RuleFacts(failures: failures + [.nftablesSync]))
            }
        }
        state.commitMain(sync)
        needsFullSync = false
        unapplied.subtract(plan.changed)
        // Our planning time and nft's own time, apart: they are tuned in different places.
        logger.debug(
            "nftables sync",
            metadata: [
                "full": "\(full)", "operations": "\(sync.main.count)", "changed": "\(plan.changed.count)",
                "planMs": "\(Self.milliseconds(planTime))", "textMs": "\(Self.milliseconds(textTimeTotal))",
                "nftMs": "\(Self.milliseconds(nftTime))",
            ])
        // Stale chains go after the change is in: `delete` makes nft 1.0.x dump every chain
        // of the table first (≈ 0.6 s at 10,000 Services), which a change should not wait for.
        if !sync.cleanup.isEmpty {
            do {
                try await executor.run(sync.cleanup.text)
                state.commitCleanup(sync)
                logger.info("deleted stale nftables chains", metadata: ["chains": "\(sync.cleanup.count)"])
            } catch {
                logger.error("could not delete stale chains; will retry later", metadata: ["error": "\(error)"])
                failures.append(.nftablesCleanup)
            }
        }
        let rules = state.totalRules
        return SyncOutcome(
            result: .succeeded, kind: full ? .full : .partial, staleUDPServicePorts: plan.staleUDPServicePorts,
            ruleFacts: SyncOutcome.RuleFacts(
                rulesPerTable: [Self.table: rules], rulesWrittenPerTable: [Self.table: sync.main.count], failures: failures))
    }

    /// The Node's zone label selects topology-hinted endpoints, and with `NodeCIDR` its pod
    /// CIDRs are the pod traffic; a change re-renders every service port in a full sync, as
    /// upstream resyncs fully on a label change.
    public func nodeChanged(_ node: Node?) {
        var next = options
        next.topology.zone = node?.metadata.labels?[WellKnownLabels.topologyZone]
        if detectsByNodeCIDR {
            let cidrs = node?.spec?.podCIDRs ?? node?.spec?.podCIDR.map { [$0] } ?? []
            next.localDetector =
                (try? LocalTrafficDetector.make(mode: "NodeCIDR", clusterCIDR: "", nodePodCIDRs: cidrs, family: next.family)) ?? .none
        }
        guard next != options else { return }
        options = next
        renderCache = NFTRenderCache(renderer: NFTRenderer(options: next))
        needsFullSync = true
    }

    /// The ServiceCIDRs of this family feed the "drop traffic to unallocated ClusterIPs" rule;
    /// only the skeleton changes, which the next partial sync rewrites by its digest.
    public func serviceCIDRsChanged(_ cidrs: [CIDR]) {
        let mine = cidrs.filter { $0.address.family == options.family }
        guard mine != options.serviceCIDRs else { return }
        options.serviceCIDRs = mine
        renderCache = NFTRenderCache(renderer: NFTRenderer(options: options))
    }

    /// A duration in milliseconds with two decimals, for logs.
    private static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let hundredths = seconds * 100_000 + attoseconds / 10_000_000_000_000
        return "\(hundredths / 100).\(String(hundredths % 100).leftPadded(to: 2))"
    }

    /// Kernel rules stay at shutdown (a restart continues from them), as upstream.
    public func shutdown(drainTimeout: Duration) async {}

    /// `--cleanup`: deletes both families' `kube-proxy` tables (harmless when absent).
    public static func cleanup(logger: Logger) async throws {
        let executor = SystemNFTables(logger: logger)
        guard executor.isAvailable() else {
            logger.info("cleanup: nft not installed or not root; no nftables tables removed")
            return
        }
        var failures: [String] = []
        for family in IPFamily.allCases {
            do {
                if try await executor.deleteTable(family: family, name: table) {
                    logger.info("cleanup: deleted nftables table", metadata: ["table": "\(family.nftFamily) \(table)"])
                }
            } catch {
                failures.append("\(family.nftFamily) \(table): \(error)")
            }
        }
        if !failures.isEmpty {
            throw KubeProxyConfiguration.Problem(field: "--cleanup", message: failures.joined(separator: "; "))
        }
    }

    /// Replaces the kept state by the kernel's table; on failure keeps an empty-table view, so
    /// the next transaction re-declares everything (`add` is harmless on existing objects).
    private func readKernel() async {
        let family = state.family
        do {
            if let json = try await executor.listTable(family: family.ipFamily, name: Self.table) {
                state = try NFTKernelState(parsingJSON: json, family: family)
            } else {
                state = NFTKernelState(family: family)
            }
            needsListing = false
        } catch {
            logger.error("could not read the nftables table; writing it in full", metadata: ["error": "\(error)"])
            state = NFTKernelState(family: family)
        }
        needsFullSync = true
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
