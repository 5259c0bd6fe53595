import Synchronization

/// Drives a `SyncSchedulerStateMachine` with a real (or manual) clock and runs the sync.
///
/// Why a separate driver: the machine decides *when*; this type only sleeps, wakes and calls the
/// `sync` closure, so the policy stays pure and the waiting is testable with `ManualClock`.
///
/// Concurrency contract:
/// - `requestSync()` is synchronous, cheap and callable from any task or thread (informer
///   event handlers call it); it never runs the sync itself.
/// - `run()` is the single place the sync runs, so two syncs never overlap. Call it once; it
///   returns when its task is cancelled (after a running sync has finished).
/// - State lives behind a `Mutex`; the only suspension points are the timer sleep, the wait for
///   a request, and the sync closure, none of which hold the lock.
public final class SyncRunner<C: Clock>: Sendable where C.Duration == Duration {
    /// The policy this runner carries out.
    public typealias Machine = SyncSchedulerStateMachine<C.Instant>

    private struct Shared: Sendable {
        var machine: Machine
        /// An action produced by `requestSync` that the run loop has not picked up yet.
        var mailbox: Machine.Action?
        /// The run loop, when it is waiting for a request.
        var waiter: CheckedContinuation<Void, Never>?
    }

    private enum Wake { case timer, request, cancelled }

    private let clock: C
    private let sync: @Sendable () async -> Bool
    private let shared: Mutex<Shared>

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - clock: the time source for the periods; tests pass a manual clock.
    ///   - configuration: `minSyncPeriod` and `syncPeriod`.
    ///   - sync: one full sync; returns `false` on failure so it is retried.
    public init(
        clock: C,
        configuration: Machine.Configuration = Machine.Configuration(),
        sync: @escaping @Sendable () async -> Bool
    ) {
        self.clock = clock
        self.sync = sync
        self.shared = Mutex(Shared(machine: Machine(configuration: configuration)))
    }

    /// Asks for a sync, subject to the rate limits; many calls in a window give one sync.
    public func requestSync() {
        let waiter: CheckedContinuation<Void, Never>? = shared.withLock { shared in
            let action = shared.machine.requestSync(now: clock.now)
            guard action != .none else { return nil }
            shared.mailbox = action
            defer { shared.waiter = nil }
            return shared.waiter
        }
        waiter?.resume()
    }

    /// Failures since the last successful sync (for logs and health).
    public var consecutiveFailures: Int { shared.withLock { $0.machine.consecutiveFailures } }

    /// Runs syncs as the machine schedules them until the calling task is cancelled.
    public func run() async {
        var action = shared.withLock { shared in
            shared.mailbox.take() ?? shared.machine.start(now: clock.now)
        }
        var deadline: C.Instant?
        while !Task.isCancelled {
            switch action {
            case .startSync:
                deadline = nil
                let succeeded = await sync()
                action = shared.withLock { shared in
                    shared.mailbox = nil
                    let now = clock.now
                    return succeeded ? shared.machine.syncSucceeded(now: now) : shared.machine.syncFailed(now: now)
                }
            case .scheduleTimer(let at):
                deadline = at
                action = await nextAction(deadline: at)
            case .none:
                action = await nextAction(deadline: deadline)
            }
        }
    }

    /// Sleeps until `deadline` or a request, whichever is first, and returns what to do next.
    private func nextAction(deadline: C.Instant?) async -> Machine.Action {
        let wake = await withTaskGroup(of: Wake.self) { group in
            if let deadline {
                group.addTask { [clock] in
                    do {
                        try await clock.sleep(until: deadline, tolerance: nil)
                        return .timer
                    } catch {
                        return .cancelled
                    }
                }
            }
            group.addTask { await self.waitForRequest() }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            return first
        }
        return shared.withLock { shared in
            // A request may have changed the machine while we slept; its action wins.
            if let pending = shared.mailbox.take() { return pending }
            if case .timer = wake { return shared.machine.timerFired(now: clock.now) }
            return .none
        }
    }

    /// Suspends until `requestSync` leaves an action, or the task is cancelled.
    private func waitForRequest() async -> Wake {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = shared.withLock { shared in
                    if shared.mailbox != nil || Task.isCancelled { return true }
                    shared.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            return Task.isCancelled ? .cancelled : .request
        } onCancel: {
            let waiter = shared.withLock { shared in
                defer { shared.waiter = nil }
                return shared.waiter
            }
            waiter?.resume()
        }
    }
}

extension Optional {
    /// Returns the value and leaves `nil` behind.
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}
