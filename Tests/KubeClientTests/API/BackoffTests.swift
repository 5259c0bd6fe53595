import Testing

@testable import KubeClient

@Suite struct BackoffTests {
    @Test func doublesFromEightHundredMillisecondsToThirtySeconds() {
        var backoff = Backoff()
        let delays = (0..<8).map { _ in backoff.next(now: .seconds(10), random: 0) }
        #expect(
            delays == [
                .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
                .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30),
            ])
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999])
    func jitterKeepsEachDelayBetweenTheBaseAndTwiceIt(random: Double) {
        var backoff = Backoff()
        for _ in 0..<10 {
            let base = backoff.nextBase(now: .zero)
            let delay = backoff.next(now: .zero, random: random)
            #expect(delay >= base)
            #expect(delay < base * 2)
        }
    }

    @Test func jitterIsAtMostOneHundredPercentEvenForOutOfRangeRandoms() {
        var backoff = Backoff()
        #expect(backoff.next(now: .zero, random: 7) == .milliseconds(1600))
    }

    @Test func resetsAfterTwoMinutesWithoutFailure() {
        var backoff = Backoff()
        _ = backoff.next(now: .seconds(0), random: 0)
        _ = backoff.next(now: .seconds(1), random: 0)
        #expect(backoff.next(now: .seconds(100), random: 0) == .milliseconds(3200))
        #expect(backoff.next(now: .seconds(221), random: 0) == .milliseconds(800))
    }

    @Test func retryAfterIsAFloor() {
        var backoff = Backoff()
        #expect(backoff.next(now: .zero, random: 0, retryAfter: .seconds(5)) == .seconds(5))
        #expect(backoff.next(now: .zero, random: 0, retryAfter: .seconds(1)) == .milliseconds(1600))
    }
}
