/// Decides *when* the proxy syncs: upstream's bounded-frequency runner as a pure state machine.
///
/// Every event method takes the current time and returns the one `Action` the driver (see
/// `SyncRunner`) must carry out, so the whole policy is testable with plain values and no clock.
///
/// Guarantees:
/// - **Never two syncs at once.** A request while a sync runs is remembered and produces exactly
///   one more sync after it.
/// - **At most one sync start per `minSyncPeriod`** (start to start). Requests inside the window
///   are coalesced into one sync at the end of the window. There is no burst allowance: upstream
///   allowed a burst of 2, which only buys a second sync carrying the few milliseconds of changes
///   after the first; the first request after a quiet period is still served at once, so latency
///   is unchanged and the "one sync per window" rule stays simple to reason about.
/// - **At least one sync every `syncPeriod`**, measured from the end of the last successful sync
///   (upstream resets its timer after every run, too).
/// - **Retry after failure** with exponential backoff: the first retry after
///   `max(minSyncPeriod, 1 s)`, doubling per consecutive failure, capped at `syncPeriod`.
///   The floor of 1 s keeps a `minSyncPeriod` of 0 from turning a persistent failure into a busy
///   loop. A new change request is not held back by the backoff (only by `minSyncPeriod`), as
///   upstream: a change may be what repairs the failure.
///
/// Misplaced events (a result while no sync runs, a timer while syncing) are ignored and return
/// `.none`, so a late timer can never start a second, concurrent sync.
public struct SyncSchedulerStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The two periods of the bounded-frequency contract.
    public struct Configuration: Sendable, Hashable {
        /// Minimum time between two sync starts (`--iptables-min-sync-period`, default 1 s).
        public var minSyncPeriod: Duration
        /// Maximum time without a successful sync (`--iptables-sync-period`, default 30 s).
        public var syncPeriod: Duration

        /// Creates a configuration; negative values are treated as zero, and a `syncPeriod`
        /// shorter than `minSyncPeriod` is raised to it (the minimum wins).
        public init(minSyncPeriod: Duration = .seconds(1), syncPeriod: Duration = .seconds(30)) {
            self.minSyncPeriod = max(minSyncPeriod, .zero)
            self.syncPeriod = max(syncPeriod, self.minSyncPeriod)
        }

        /// The first retry delay after a failure.
        var retryBase: Duration { max(minSyncPeriod, .seconds(1)) }
        /// The longest retry delay.
        var retryCap: Duration { max(syncPeriod, retryBase) }
    }

    /// What the driver must do after an event.
    public enum Action: Hashable, Sendable {
        /// Run the sync now, then report `syncSucceeded` or `syncFailed`.
        case startSync
        /// (Re)arm the single timer for this instant, replacing any earlier timer, and report
        /// `timerFired` when it expires.
        case scheduleTimer(at: Instant)
        /// Nothing changes: keep the timer that is armed (or keep syncing).
        case none
    }

    private enum State: Sendable, Hashable {
        /// Nothing has happened yet; no timer armed.
        case initial
        /// Waiting for `deadline`; `requested` says a coalesced request is due at it.
        case waiting(deadline: Instant, requested: Bool)
        /// A sync is running; `requestedAgain` says a request arrived meanwhile.
        case syncing(requestedAgain: Bool)
    }

    /// The policy parameters.
    public let configuration: Configuration
    private var state: State = .initial
    private var lastSyncStart: Instant?
    /// Failures since the last success; drives the retry backoff.
    public private(set) var consecutiveFailures = 0

    /// Creates a machine in its initial state: no timer, no sync yet.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether a sync is running (between `.startSync` and its result).
    public var isSyncing: Bool {
        if case .syncing = state { return true }
        return false
    }

    /// The instant the armed timer should fire, `nil` before `start` and while syncing.
    public var timerDeadline: Instant? {
        if case .waiting(let deadline, _) = state { return deadline }
        return nil
    }

    /// The driver started: arm the periodic timer. The first sync itself waits for a request
    /// (the proxy asks once its informers have synced) or for `syncPeriod`.
    public mutating func start(now: Instant) -> Action {
        guard case .initial = state else { return .none }
        return wait(until: now.advanced(by: configuration.syncPeriod), requested: false)
    }

    /// Something changed and should be programmed.
    public mutating func requestSync(now: Instant) -> Action {
        switch state {
        case .initial:
            return beginSync(now: now)
        case .waiting(let deadline, let requested):
            if requested { return .none }
            let earliest = earliestStart(now: now)
            if earliest <= now { return beginSync(now: now) }
            if earliest < deadline { return wait(until: earliest, requested: true) }
            state = .waiting(deadline: deadline, requested: true)
            return .none
        case .syncing:
            state = .syncing(requestedAgain: true)
            return .none
        }
    }

    /// The armed timer expired (possibly early or late; the machine checks the time itself).
    public mutating func timerFired(now: Instant) -> Action {
        guard case .waiting(let deadline, _) = state else { return .none }
        if now < deadline { return .scheduleTimer(at: deadline) }
        return beginSync(now: now)
    }

    /// The running sync finished and programmed everything.
    public mutating func syncSucceeded(now: Instant) -> Action {
        guard case .syncing(let requestedAgain) = state else { return .none }
        consecutiveFailures = 0
        if requestedAgain { return syncAgain(now: now) }
        return wait(until: now.advanced(by: configuration.syncPeriod), requested: false)
    }

    /// The running sync failed; the next one must retry everything.
    public mutating func syncFailed(now: Instant) -> Action {
        guard case .syncing(let requestedAgain) = state else { return .none }
        consecutiveFailures += 1
        if requestedAgain { return syncAgain(now: now) }
        return wait(until: now.advanced(by: retryDelay), requested: false)
    }

    /// `retryBase · 2^(failures-1)`, capped; computed by doubling so it cannot overflow.
    var retryDelay: Duration {
        var delay = configuration.retryBase
        var remaining = consecutiveFailures - 1
        while remaining > 0 && delay < configuration.retryCap {
            delay = delay * 2
            remaining -= 1
        }
        return min(delay, configuration.retryCap)
    }

    private func earliestStart(now: Instant) -> Instant {
        guard let lastSyncStart else { return now }
        return lastSyncStart.advanced(by: configuration.minSyncPeriod)
    }

    private mutating func syncAgain(now: Instant) -> Action {
        let earliest = earliestStart(now: now)
        if earliest <= now { return beginSync(now: now) }
        return wait(until: earliest, requested: true)
    }

    private mutating func beginSync(now: Instant) -> Action {
        state = .syncing(requestedAgain: false)
        lastSyncStart = now
        return .startSync
    }

    private mutating func wait(until deadline: Instant, requested: Bool) -> Action {
        state = .waiting(deadline: deadline, requested: requested)
        return .scheduleTimer(at: deadline)
    }
}
