import NIOCore
import Testing

@testable import KubeProxyRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The pure decisions behind the observability servers' abuse resistance.
struct AcceptGateStateMachineTests {
    private let limits = HTTPServerLimits(
        maxConnections: 2, acceptBackoff: .milliseconds(50), maximumAcceptBackoff: .milliseconds(300))

    @Test func pausesAtTheCapAndResumesWhenOneCloses() {
        var gate = AcceptGateStateMachine(limits: limits)
        #expect(gate.accepted() == .serve(pause: false))
        #expect(gate.accepted() == .serve(pause: true))
        // One more in the same read burst is closed, not counted.
        #expect(gate.accepted() == .reject)
        #expect(gate.openConnections == 2)
        #expect(gate.closed() == .resume)
        #expect(gate.closed() == .none)
        #expect(gate.openConnections == 0)
    }

    @Test func acceptErrorsBackOffExponentiallyUpToTheMaximum() {
        var gate = AcceptGateStateMachine(limits: limits)
        var delays: [TimeAmount] = []
        for _ in 0..<5 {
            guard case .pauseAndRetry(let delay) = gate.acceptFailed() else {
                Issue.record("expected a pause")
                return
            }
            delays.append(delay)
            // A second error before the pause ends (another thread's view) changes nothing.
            #expect(gate.acceptFailed() == .none)
            #expect(gate.backoffElapsed() == .resume)
        }
        #expect(delays == [.milliseconds(50), .milliseconds(200), .milliseconds(300), .milliseconds(300), .milliseconds(300)])
    }

    @Test func aSuccessfulAcceptResetsTheBackoff() {
        var gate = AcceptGateStateMachine(limits: limits)
        _ = gate.acceptFailed()
        _ = gate.backoffElapsed()
        _ = gate.acceptFailed()
        _ = gate.backoffElapsed()
        #expect(gate.accepted() == .serve(pause: false))
        #expect(gate.acceptFailed() == .pauseAndRetry(after: .milliseconds(50)))
    }

    @Test func theEndOfABackoffDoesNotResumeAFullServer() {
        var gate = AcceptGateStateMachine(limits: limits)
        _ = gate.accepted()
        _ = gate.accepted()
        #expect(gate.acceptFailed() == .pauseAndRetry(after: .milliseconds(50)))
        #expect(gate.backoffElapsed() == .none)
        #expect(gate.closed() == .resume)
    }

    @Test func aClosedConnectionDoesNotEndABackoff() {
        var gate = AcceptGateStateMachine(limits: limits)
        _ = gate.accepted()
        _ = gate.acceptFailed()
        #expect(gate.closed() == .none)
        #expect(gate.backoffElapsed() == .resume)
    }

    @Test func onlyResourceErrorsBackOff() {
        #expect(AcceptGateStateMachine.isResourceExhaustion(IOError(errnoCode: EMFILE, reason: "accept")))
        #expect(AcceptGateStateMachine.isResourceExhaustion(IOError(errnoCode: ENFILE, reason: "accept")))
        #expect(!AcceptGateStateMachine.isResourceExhaustion(IOError(errnoCode: ECONNABORTED, reason: "accept")))
        #expect(!AcceptGateStateMachine.isResourceExhaustion(ChannelError.ioOnClosedChannel))
    }
}

struct HTTPConnectionTimerStateMachineTests {
    private let limits = HTTPServerLimits(maxConnections: 1, idleTimeout: .seconds(30), requestTimeout: .seconds(10))
    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private func at(_ seconds: Int64) -> NIODeadline { t0 + .seconds(seconds) }

    @Test func theFirstRequestsClockRunsFromTheOpeningNotFromEachByte() {
        var timer = HTTPConnectionTimerStateMachine(limits: limits, now: t0)
        #expect(timer.deadline == at(10))
        // A slowloris client: one byte a second never moves the deadline.
        for second in 1...9 { #expect(timer.bytesReceived(now: at(Int64(second))) == .schedule(at(10))) }
        #expect(timer.timerFired(now: at(10)) == .close)
        #expect(timer.deadline == nil)
    }

    @Test func keepAliveWaitsIdleThenGivesTheNextRequestItsOwnDeadline() {
        var timer = HTTPConnectionTimerStateMachine(limits: limits, now: t0)
        #expect(timer.bytesReceived(now: at(1)) == .schedule(at(10)))
        // Received: the response must be written within the request timeout.
        #expect(timer.requestReceived(now: at(2)) == .schedule(at(12)))
        // Sent: idle until the next request's first byte.
        #expect(timer.responseSent(now: at(3)) == .schedule(at(33)))
        #expect(timer.bytesReceived(now: at(20)) == .schedule(at(30)))
        #expect(timer.requestReceived(now: at(21)) == .schedule(at(31)))
        #expect(timer.responseSent(now: at(22)) == .schedule(at(52)))
        #expect(timer.timerFired(now: at(52)) == .close)
    }

    @Test func anEarlyTimerKeepsTheDeadline() {
        var timer = HTTPConnectionTimerStateMachine(limits: limits, now: t0)
        #expect(timer.timerFired(now: at(9)) == .schedule(at(10)))
    }

    @Test func pipelinedRequestsKeepTheConnectionInTheWritingPhase() {
        var timer = HTTPConnectionTimerStateMachine(limits: limits, now: t0)
        _ = timer.bytesReceived(now: at(1))
        #expect(timer.requestReceived(now: at(1)) == .schedule(at(11)))
        #expect(timer.requestReceived(now: at(2)) == .schedule(at(12)))
        #expect(timer.responseSent(now: at(3)) == .schedule(at(13)))
        #expect(timer.responseSent(now: at(4)) == .schedule(at(34)))
    }

    @Test func bytesDuringAResponseStartTheNextRequestsClockWhenItIsSent() {
        var timer = HTTPConnectionTimerStateMachine(limits: limits, now: t0)
        _ = timer.requestReceived(now: at(1))
        #expect(timer.bytesReceived(now: at(2)) == .schedule(at(11)))
        #expect(timer.responseSent(now: at(3)) == .schedule(at(13)))
    }

    @Test func aClientThatDoesNotReadItsResponseIsClosed() {
        var timer = HTTPConnectionTimerStateMachine(limits: limits, now: t0)
        _ = timer.requestReceived(now: at(1))
        #expect(timer.timerFired(now: at(11)) == .close)
    }
}
