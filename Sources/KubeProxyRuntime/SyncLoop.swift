import KubeAPI
import KubeClient
import KubeProxyCore
import Logging

/// The proxier of one IP family, for any mode: records source events, and at sync time turns
/// the recorded changes into a snapshot, hands it to the mode's backend and reports the
/// outcome to the observers.
///
/// Event handling only records (docs/design.md#the-loop): no socket or kernel work happens on
/// the event path, so a burst of edits costs one sync. Until the source reports `synced`,
/// syncs do nothing, so a half-loaded state is never programmed (upstream's "services and
/// endpoints synced" rule).
///
/// The loop knows nothing about a mode: `Backend.plan` and `Backend.apply` are its only calls
/// into one, and `SyncOutcome` the only thing it reads back. The `clock` stamps tracker
/// changes and measures sync durations, so tests drive both with a manual clock.
public actor SyncLoop<Backend: ProxyBackend, C: Clock> where C.Duration == Duration {
    /// Where the loop is in its life; re-checked after every `await`, since the actor may have
    /// been shut down while it was suspended.
    public enum Phase: Sendable, Hashable {
        /// The source has not delivered its initial contents yet: syncs program nothing.
        case waitingForInitialState
        /// Syncing; `firstSyncDone` once a sync has programmed the whole initial state.
        case ready(firstSyncDone: Bool)
        /// `shutdown` was called: no further sync touches the backend.
        case shuttingDown
    }

    private let family: IPFamily
    private let nodeName: String
    private let backend: Backend
    private let clock: C
    private let observers: ProxyObservers
    private let logger: Logger
    private var services = ServiceChangeTracker<C.Instant>()
    private var endpoints: EndpointsChangeTracker<C.Instant>
    private var state: ProxyState
    /// Where the loop is; see `Phase`.
    public private(set) var phase = Phase.waitingForInitialState
    /// The outcome of the last sync that reached the backend, for tests and diagnostics.
    public private(set) var lastOutcome: SyncOutcome?
    /// A Node change not yet handed to the backend (`.some(nil)`: the Node was deleted).
    private var pendingNode: Node??
    /// Every ServiceCIDR's ranges by object name, and whether they changed since the backend
    /// last saw them.
    private var serviceCIDRs: [String: [CIDR]] = [:]
    private var serviceCIDRsChanged = false
    /// What the kernel held after the last programmed sync, and the changes since, for the UDP
    /// conntrack cleanup (which must see every change, also those of failed syncs). `nil`
    /// before the first programmed sync: what a previous run left is unknown, and its flows
    /// to endpoints that still serve must survive a restart, so the first sync deletes nothing.
    /// Always `nil` without a conntrack cleanup (userspace mode).
    private var programmedSnapshot: ProxySnapshot?
    private var unreconciled = SyncDelta()
    /// The local-endpoint facts of `state`, advanced by every sync's delta (health check
    /// servers and the no-local-endpoint gauges read them).
    private var localFacts = LocalEndpointFacts()

    /// Creates a loop for `family` on node `nodeName` over `backend`. `sourceValidates`: the
    /// source refuses objects that fail `APIValidation` itself (the manifest source does), so
    /// the loop does not check them again.
    public init(
        nodeName: String, family: IPFamily, backend: Backend, clock: C, observers: ProxyObservers = ProxyObservers(),
        sourceValidates: Bool = false, logger: Logger
    ) {
        self.nodeName = nodeName
        self.family = family
        self.backend = backend
        self.clock = clock
        self.observers = observers
        self.logger = logger
        self.endpoints = EndpointsChangeTracker(family: family)
        self.endpoints.validatesObjects = !sourceValidates
        self.state = ProxyState(family: family)
    }

    /// Lets the backend read what a previous run left, before the first sync. Throws the
    /// backend's fatal start problem.
    public func start() async throws {
        try await backend.start()
    }

    /// Records one event; returns whether a sync should be requested.
    public func handle(_ event: SourceEvent) -> Bool {
        handle([event])
    }

    /// Records a batch of events in order (a source's initial load, a re-read file, a drained
    /// run of watch events); returns whether a sync should be requested.
    ///
    /// Why batches: each call is an actor hop there and back, and under load every wake-up of a
    /// parked thread waits for a time slice; at 10k Services the initial load was 20k hops.
    public func handle(_ events: [SourceEvent]) -> Bool {
        var wantsSync = false
        for event in events {
            if record(event) { wantsSync = true }
        }
        if wantsSync {
            observers.health?.queued(family)
            observers.metrics?.syncQueued(family: family, at: .now)
        }
        observers.metrics?.pendingChanges(services: services.pendingCount, endpoints: endpoints.pendingCount)
        return wantsSync
    }

    private func record(_ event: SourceEvent) -> Bool {
        let now = clock.now
        let changed: Bool
        switch event {
        case .service(let change):
            if let key = (change.new ?? change.old).flatMap({ NamespacedName($0.metadata) }),
                services.pendingChange(for: key) == nil, state.ignores(change.new, of: key)
            {
                // Nothing this family programs can change (another family's Service, say).
                changed = false
            } else {
                changed = services.update(previous: change.old, current: change.new, at: now)
            }
        case .endpointSlice(let change):
            changed = endpoints.update(previous: change.old, current: change.new, at: now)
        case .endpoints(let change):
            changed = endpoints.update(previous: change.old, current: change.new, at: now)
        case .node(let change):
            observers.health?.nodeChanged(change.new)
            pendingNode = .some(change.new)
            return isInitialized
        case .serviceCIDR(let change):
            let name = (change.new ?? change.old)?.metadata.name ?? ""
            let cidrs = (change.new?.spec?.cidrs ?? []).compactMap { CIDR($0) }
            if change.new == nil { serviceCIDRs[name] = nil } else { serviceCIDRs[name] = cidrs }
            serviceCIDRsChanged = true
            return isInitialized
        case .synced:
            switch phase {
            case .waitingForInitialState:
                logger.info("initial Services and endpoints loaded; starting to sync")
                phase = .ready(firstSyncDone: false)
                return true
            case .ready:
                return true
            case .shuttingDown:
                return false
            }
        }
        return changed && isInitialized
    }

    /// Whether the initial contents have been loaded (and the loop is not shut down).
    public var isInitialized: Bool {
        if case .ready = phase { return true }
        return false
    }

    /// The current desired state (for tests and, later, health and metrics).
    public var snapshot: ProxySnapshot { state.snapshot }

    /// One sync. Returns false when the scheduler should retry after its short backoff rather
    /// than at the next periodic sync (the outcome said so).
    public func sync() async -> Bool {
        guard case .ready(let firstSyncDone) = phase else { return true }
        let started = clock.now
        observers.metrics?.changesTaken(services: services.pendingCount, endpoints: endpoints.pendingCount)
        if let node = pendingNode {
            pendingNode = nil
            await backend.nodeChanged(node)
            guard isInitialized else { return true }
        }
        if serviceCIDRsChanged {
            serviceCIDRsChanged = false
            await backend.serviceCIDRsChanged(Array(Set(serviceCIDRs.values.joined())).sorted { $0.description < $1.description })
            guard isInitialized else { return true }
        }
        let delta = state.apply(services: &services, endpoints: &endpoints)
        localFacts.update(snapshot: state.snapshot, delta: delta, nodeName: nodeName)
        observers.metrics?.pendingChanges(services: 0, endpoints: 0)
        report(delta)
        // Only a conntrack cleanup after a programmed sync reads these (the first programmed
        // sync deletes nothing): the first sync's delta names every service port twice.
        if observers.conntrack != nil, programmedSnapshot != nil { unreconciled.absorb(delta) }
        let snapshot = state.snapshot
        let plan = await backend.plan(snapshot: snapshot, delta: delta)
        guard isInitialized else { return true }
        let outcome = await backend.apply(plan)
        lastOutcome = outcome
        guard isInitialized else { return true }
        if outcome.isProgrammed {
            await reconcileConntrack(snapshot)
            guard isInitialized else { return true }
        }
        await observe(outcome, snapshot: snapshot, delta: delta, started: started)
        if outcome.isProgrammed && !firstSyncDone, isInitialized {
            phase = .ready(firstSyncDone: true)
            logger.info(
                "first sync complete",
                metadata: [
                    "servicePorts": "\(snapshot.servicePorts.count)",
                    "duration": "\(GoDuration.format(started.duration(to: clock.now)))",
                ])
        }
        return !outcome.wantsRetry
    }

    /// Clears UDP flows that would keep following a translation to an endpoint that no longer
    /// serves (kernel modes; see `ConntrackCleanup`), for every change since the last
    /// programmed sync.
    private func reconcileConntrack(_ snapshot: ProxySnapshot) async {
        defer {
            // Kept only for a cleanup to compare with: a held snapshot shares the state's
            // tables, so the next apply copies every one of them (10k entries each).
            programmedSnapshot = observers.conntrack == nil ? nil : snapshot
            unreconciled = SyncDelta()
        }
        guard let conntrack = observers.conntrack, let programmedSnapshot else { return }
        let filters = ConntrackCleanup.filters(previous: programmedSnapshot, current: snapshot, delta: unreconciled)
        guard !filters.isEmpty else { return }
        await conntrack.reconcile(filters, family: family)
    }

    /// Stops syncing and lets the backend stop serving (open connections get `drainTimeout`).
    /// A sync in progress finishes its current backend call and then touches nothing more.
    public func shutdown(drainTimeout: Duration) async {
        if phase == .shuttingDown { return }
        phase = .shuttingDown
        await backend.shutdown(drainTimeout: drainTimeout)
    }

    /// Health, metrics and per-service health checks after a sync, from the outcome only.
    private func observe(_ outcome: SyncOutcome, snapshot: ProxySnapshot, delta: SyncDelta, started: C.Instant) async {
        observers.health?.unserved(family, reason: outcome.unservedReason)
        let duration = started.duration(to: clock.now)
        await observers.syncOutcome?(outcome, family, duration)
        guard isInitialized else { return }
        guard observers.health != nil || observers.metrics != nil || observers.serviceHealth != nil else { return }
        let facts = localFacts
        if outcome.isProgrammed {
            observers.health?.updated(family)
            if let metrics = observers.metrics {
                metrics.syncCompleted(duration: duration, family: family, at: .now)
                let unparsable = metrics.networkProgrammingLatency(
                    triggerTimes: delta.lastChangeTriggerTimes, family: family, now: .now)
                for value in unparsable {
                    logger.debug("ignoring an unparsable last-change-trigger-time", metadata: ["value": "\(value)"])
                }
                metrics.noLocalEndpoints(
                    internal: facts.internalWithoutLocal, external: facts.externalWithoutLocal, family: family)
            }
        }
        if let serviceHealth = observers.serviceHealth {
            for failure in await serviceHealth.update(facts.healthChecks) {
                logger.error("health check server failed to open; will retry", metadata: ["problem": "\(failure)"])
            }
        }
    }

    private func report(_ delta: SyncDelta) {
        for (service, causes) in delta.serviceProblems.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "Service refused; keeping its last good state",
                metadata: ["service": "\(service)", "problems": "\(SyncLoopText.describe(causes))"])
        }
        for (source, causes) in delta.endpointProblems.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "endpoints refused; keeping their last good state",
                metadata: ["source": "\(source)", "problems": "\(SyncLoopText.describe(causes))"])
        }
    }
}

/// Log text shared by every loop instance (a generic type cannot hold static stored state).
enum SyncLoopText {
    /// `field: message; field: message` for a refused object's causes.
    static func describe(_ causes: [StatusCause]) -> String {
        causes.map { cause in
            [cause.field, cause.message].compactMap { $0 }.joined(separator: ": ")
        }.joined(separator: "; ")
    }
}
