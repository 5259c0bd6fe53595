import KubeProxyCore
import KubeProxyTesting
import Synchronization
import Testing

/// A sync closure whose runs the test observes (start times) and, when gated, finishes by hand.
final class SyncProbe: Sendable {
    private struct State {
        var results: [Bool]
        var gated: Bool
        var running: CheckedContinuation<Bool, Never>?
        var releasedEarly: Bool?
    }

    let clock: ManualClock
    /// The clock time at which each sync started, in order.
    let starts: AsyncStream<ManualClock.Instant>
    private let startsContinuation: AsyncStream<ManualClock.Instant>.Continuation
    private let state: Mutex<State>

    /// `results` are returned in order (then `true`); a gated probe waits for `finish`.
    init(clock: ManualClock, results: [Bool] = [], gated: Bool = false) {
        self.clock = clock
        (starts, startsContinuation) = AsyncStream.makeStream()
        state = Mutex(State(results: results, gated: gated))
    }

    func sync() async -> Bool {
        startsContinuation.yield(clock.now)
        let (gated, scripted) = state.withLock { state in
            (state.gated, state.results.isEmpty ? true : state.results.removeFirst())
        }
        guard gated else { return scripted }
        return await withCheckedContinuation { continuation in
            let early: Bool? = state.withLock { state in
                if let early = state.releasedEarly {
                    state.releasedEarly = nil
                    return early
                }
                state.running = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    /// Ends the gated sync that is running (or about to wait) with `result`.
    func finish(_ result: Bool = true) {
        let running = state.withLock { state in
            guard let running = state.running else {
                state.releasedEarly = result
                return nil as CheckedContinuation<Bool, Never>?
            }
            state.running = nil
            return running
        }
        running?.resume(returning: result)
    }
}

@Suite("SyncRunner", .timeLimit(.minutes(1)))
struct SyncRunnerTests {
    /// Runs `body` against a running runner, then cancels the runner and waits for it to stop.
    func withRunner(
        probe: SyncProbe,
        minSyncPeriod: Duration = .seconds(1),
        syncPeriod: Duration = .seconds(30),
        beforeRun: (SyncRunner<ManualClock>) -> Void = { _ in },
        _ body: (SyncRunner<ManualClock>, inout AsyncStream<ManualClock.Instant>.Iterator) async -> Void
    ) async {
        let runner = SyncRunner(
            clock: probe.clock, configuration: .init(minSyncPeriod: minSyncPeriod, syncPeriod: syncPeriod),
            sync: { await probe.sync() })
        beforeRun(runner)
        var starts = probe.starts.makeAsyncIterator()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await runner.run() }
            await body(runner, &starts)
            group.cancelAll()
        }
    }

    @Test func requestSyncsAtOnceThenPeriodically() async {
        let clock = ManualClock()
        let probe = SyncProbe(clock: clock)
        await withRunner(probe: probe) { runner, starts in
            await clock.waitForSleeper(until: t(30))
            clock.advance(to: t(2))
            runner.requestSync()
            #expect(await starts.next() == t(2))
            await clock.waitForSleeper(until: t(32))
            clock.advance(to: t(32))
            #expect(await starts.next() == t(32))
            await clock.waitForSleeper(until: t(62))
        }
    }

    @Test func requestsInsideTheWindowGiveOneSync() async {
        let clock = ManualClock()
        let probe = SyncProbe(clock: clock)
        await withRunner(probe: probe) { runner, starts in
            await clock.waitForSleepers()
            runner.requestSync()
            #expect(await starts.next() == t(0))
            await clock.waitForSleeper(until: t(30))
            clock.advance(to: t(0.2))
            runner.requestSync()
            runner.requestSync()
            runner.requestSync()
            await clock.waitForSleepers { $0 == [t(1)] }
            clock.advance(to: t(1))
            #expect(await starts.next() == t(1))
            // Idle again until the periodic sync: no sync for the other two requests.
            await clock.waitForSleepers { $0 == [t(31)] }
            clock.advance(to: t(31))
            #expect(await starts.next() == t(31))
        }
    }

    @Test func requestDuringASyncRunsExactlyOneMoreAfterIt() async {
        let clock = ManualClock()
        let probe = SyncProbe(clock: clock, gated: true)
        await withRunner(probe: probe) { runner, starts in
            await clock.waitForSleepers()
            runner.requestSync()
            #expect(await starts.next() == t(0))
            runner.requestSync()
            runner.requestSync()
            clock.advance(to: t(3))
            #expect(clock.sleeperDeadlines.isEmpty, "nothing else is scheduled while the sync runs")
            probe.finish()
            #expect(await starts.next() == t(3))
            probe.finish()
            await clock.waitForSleepers { $0 == [t(33)] }
            clock.advance(to: t(33))
            #expect(await starts.next() == t(33))
            probe.finish()
        }
    }

    @Test func failedSyncIsRetried() async {
        let clock = ManualClock()
        let probe = SyncProbe(clock: clock, results: [false, false, true])
        await withRunner(probe: probe) { runner, starts in
            await clock.waitForSleepers()
            runner.requestSync()
            #expect(await starts.next() == t(0))
            await clock.waitForSleepers { $0 == [t(1)] }
            #expect(runner.consecutiveFailures == 1)
            clock.advance(to: t(1))
            #expect(await starts.next() == t(1))
            await clock.waitForSleepers { $0 == [t(3)] }
            clock.advance(to: t(3))
            #expect(await starts.next() == t(3))
            await clock.waitForSleepers { $0 == [t(33)] }
            #expect(runner.consecutiveFailures == 0)
        }
    }

    @Test func requestBeforeRunSyncsWhenRunStarts() async {
        let clock = ManualClock()
        let probe = SyncProbe(clock: clock)
        await withRunner(probe: probe, beforeRun: { $0.requestSync() }) { _, starts in
            #expect(await starts.next() == t(0))
            await clock.waitForSleepers { $0 == [t(30)] }
        }
    }

    @Test func cancellationStopsAnIdleRunner() async {
        let clock = ManualClock()
        let probe = SyncProbe(clock: clock)
        let runner = SyncRunner(clock: clock, sync: { await probe.sync() })
        let task = Task { await runner.run() }
        await clock.waitForSleepers()
        task.cancel()
        await task.value
        #expect(clock.sleeperDeadlines.isEmpty)
    }
}
