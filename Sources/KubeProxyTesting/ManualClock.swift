import Synchronization

/// A `Clock` whose time moves only when a test calls `advance(by:)` or `advance(to:)`.
///
/// Why: everything in the proxy that waits (the sync scheduler, UDP session expiry, health
/// timeouts) takes `some Clock`; with this clock a test drives minutes of scheduling in
/// microseconds, deterministically, with no real sleeping and no timed assertions.
///
/// Sleepers are real suspended tasks: `advance` resumes every sleeper whose deadline has been
/// reached, cancellation resumes a sleeper with `CancellationError` (like `ContinuousClock`), and
/// a test can wait until the code under test has gone to sleep (`waitForSleepers`), which is how
/// it knows the code is idle before it advances time or asserts that nothing happened.
public final class ManualClock: Clock, Sendable {
    /// A point on the manual time line: an offset from the clock's origin.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the origin (`.zero`).
        public var offset: Duration

        /// Creates an instant `offset` after the origin.
        public init(offset: Duration) {
            self.offset = offset
        }

        /// The origin, where a new clock starts.
        public static let zero = Instant(offset: .zero)

        /// Moves the instant; required by `InstantProtocol`.
        public func advanced(by duration: Duration) -> Instant {
            Instant(offset: offset + duration)
        }

        /// The signed distance to `other`; required by `InstantProtocol`.
        public func duration(to other: Instant) -> Duration {
            other.offset - offset
        }

        /// Orders instants by offset.
        public static func < (lhs: Instant, rhs: Instant) -> Bool {
            lhs.offset < rhs.offset
        }

        /// `t+<offset>`, e.g. `t+1.5 seconds`, so failing expectations read as times.
        public var description: String { "t+\(offset)" }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        var predicate: @Sendable ([Instant]) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now: Instant
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        var watchers: [UInt64: Watcher] = [:]

        var deadlines: [Instant] { sleepers.values.map(\.deadline).sorted() }

        mutating func takeID() -> UInt64 {
            nextID += 1
            return nextID
        }

        /// Removes and returns the watchers whose predicate now holds.
        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            let current = deadlines
            let ready = watchers.filter { $0.value.predicate(current) }
            for id in ready.keys { watchers[id] = nil }
            return ready.values.map(\.continuation)
        }
    }

    private let state: Mutex<State>

    /// Creates a clock standing at `now` (the origin by default).
    public init(now: Instant = .zero) {
        self.state = Mutex(State(now: now))
    }

    /// The current manual time.
    public var now: Instant { state.withLock { $0.now } }

    /// One nanosecond: the clock has no granularity of its own.
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// The deadlines of the tasks sleeping right now, earliest first.
    public var sleeperDeadlines: [Instant] { state.withLock { $0.deadlines } }

    /// Suspends until `advance` reaches `deadline`; returns at once for a deadline not in the future.
    ///
    /// Throws `CancellationError` when the sleeping task is cancelled, like the system clocks.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id = state.withLock { $0.takeID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case wait([CheckedContinuation<Void, Never>]), resume, cancelled }
                let outcome: Outcome = state.withLock { state in
                    if Task.isCancelled { return .cancelled }
                    if deadline <= state.now { return .resume }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .wait(state.satisfiedWatchers())
                }
                switch outcome {
                case .resume: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait(let watchers): watchers.forEach { $0.resume() }
                }
            }
        } onCancel: {
            let (sleeper, watchers) = state.withLock { state in
                let sleeper = state.sleepers.removeValue(forKey: id)
                return (sleeper, sleeper == nil ? [] : state.satisfiedWatchers())
            }
            sleeper?.continuation.resume(throwing: CancellationError())
            watchers.forEach { $0.resume() }
        }
    }

    /// Moves time forward by `duration` and wakes every sleeper whose deadline has been reached.
    public func advance(by duration: Duration) {
        move { $0.advanced(by: duration) }
    }

    /// Moves time to `instant` (never backwards) and wakes every sleeper whose deadline has been
    /// reached, in deadline order.
    public func advance(to instant: Instant) {
        move { _ in instant }
    }

    private func move(_ target: (Instant) -> Instant) {
        let (due, watchers) = state.withLock { state in
            state.now = max(state.now, target(state.now))
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }.sorted { $0.value.deadline < $1.value.deadline }
            for (id, _) in due { state.sleepers[id] = nil }
            return (due.map(\.value.continuation), state.satisfiedWatchers())
        }
        due.forEach { $0.resume() }
        watchers.forEach { $0.resume() }
    }

    /// Waits until the set of sleeping deadlines (sorted, earliest first) satisfies `predicate`.
    ///
    /// This is how a test learns that the code under test is idle and waiting for time to pass.
    /// It does not time out by itself; give the test a `.timeLimit` trait.
    public func waitForSleepers(where predicate: @escaping @Sendable ([Instant]) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let satisfied = state.withLock { state in
                if predicate(state.deadlines) { return true }
                state.watchers[state.takeID()] = Watcher(predicate: predicate, continuation: continuation)
                return false
            }
            if satisfied { continuation.resume() }
        }
    }

    /// Waits until some task sleeps until exactly `deadline`.
    public func waitForSleeper(until deadline: Instant) async {
        await waitForSleepers { $0.contains(deadline) }
    }

    /// Waits until at least `count` tasks are sleeping, and returns their deadlines.
    @discardableResult
    public func waitForSleepers(count: Int = 1) async -> [Instant] {
        await waitForSleepers { $0.count >= count }
        return sleeperDeadlines
    }
}
