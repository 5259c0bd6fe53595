import KubeProxyTesting
import Testing

@Suite("ManualClock", .timeLimit(.minutes(1)))
struct ManualClockTests {
    @Test func sleeperWakesOnlyWhenTimeReachesItsDeadline() async throws {
        let clock = ManualClock()
        try await withThrowingTaskGroup(of: ManualClock.Instant.self) { group in
            group.addTask {
                try await clock.sleep(until: t(5), tolerance: nil)
                return clock.now
            }
            #expect(await clock.waitForSleepers() == [t(5)])
            clock.advance(by: .seconds(4))
            #expect(clock.sleeperDeadlines == [t(5)])
            clock.advance(by: .seconds(2))
            let wokeAt = try await group.next()
            #expect(wokeAt == t(6))
        }
    }

    @Test func sleepUntilThePastReturnsAtOnce() async throws {
        let clock = ManualClock(now: t(10))
        try await clock.sleep(until: t(3), tolerance: nil)
        #expect(clock.sleeperDeadlines.isEmpty)
    }

    @Test func cancelledSleeperThrowsAndLeaves() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(until: t(60), tolerance: nil) }
        await clock.waitForSleepers()
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperDeadlines.isEmpty)
    }

    @Test func timeNeverMovesBackwards() {
        let clock = ManualClock(now: t(10))
        clock.advance(to: t(3))
        #expect(clock.now == t(10))
        clock.advance(by: .milliseconds(500))
        #expect(clock.now == t(10.5))
    }

    @Test func wakesSleepersInDeadlineOrderUpToTheNewTime() async throws {
        let clock = ManualClock()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for second in [3, 1, 2, 9] {
                group.addTask {
                    try await clock.sleep(until: t(Double(second)), tolerance: nil)
                    return second
                }
            }
            await clock.waitForSleepers(count: 4)
            clock.advance(to: t(3))
            var woken: Set<Int> = []
            for _ in 0..<3 {
                let second = try await group.next()
                woken.insert(second ?? -1)
            }
            #expect(woken == [1, 2, 3])
            #expect(clock.sleeperDeadlines == [t(9)])
            group.cancelAll()
        }
    }
}
