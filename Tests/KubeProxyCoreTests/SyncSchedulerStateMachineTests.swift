import KubeProxyCore
import KubeProxyTesting
import Testing

/// Seconds after the manual clock's origin.
func t(_ seconds: Double) -> ManualClock.Instant {
    ManualClock.Instant(offset: .milliseconds(Int64((seconds * 1000).rounded())))
}

@Suite("SyncSchedulerStateMachine")
struct SyncSchedulerStateMachineTests {
    typealias Machine = SyncSchedulerStateMachine<ManualClock.Instant>

    enum Event: Sendable, CustomStringConvertible {
        case start(Double), request(Double), timer(Double), succeeded(Double), failed(Double)

        var description: String {
            switch self {
            case .start(let at): "start@\(at)"
            case .request(let at): "request@\(at)"
            case .timer(let at): "timer@\(at)"
            case .succeeded(let at): "ok@\(at)"
            case .failed(let at): "fail@\(at)"
            }
        }
    }

    /// A named sequence of events, each with the action the machine must answer.
    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var minSyncPeriod: Duration = .seconds(1)
        var syncPeriod: Duration = .seconds(30)
        var steps: [(Event, Machine.Action)]
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "start arms the periodic timer; the first request syncs at once",
            steps: [
                (.start(0), .scheduleTimer(at: t(30))),
                (.request(5), .startSync),
                (.succeeded(5.5), .scheduleTimer(at: t(35.5))),
            ]),
        Scenario(
            name: "a request before start syncs at once",
            steps: [
                (.request(0), .startSync),
                (.start(0), .none),
                (.succeeded(0.1), .scheduleTimer(at: t(30.1))),
            ]),
        Scenario(
            name: "requests inside minSyncPeriod coalesce into one sync at the window's end",
            steps: [
                (.request(0), .startSync),
                (.succeeded(0.2), .scheduleTimer(at: t(30.2))),
                (.request(0.3), .scheduleTimer(at: t(1))),
                (.request(0.5), .none),
                (.request(0.9), .none),
                (.timer(1), .startSync),
                (.succeeded(1.1), .scheduleTimer(at: t(31.1))),
            ]),
        Scenario(
            name: "a request after the window syncs at once",
            steps: [
                (.request(0), .startSync),
                (.succeeded(0.2), .scheduleTimer(at: t(30.2))),
                (.request(1.0), .startSync),
            ]),
        Scenario(
            name: "requests during a sync give exactly one more sync, after the window",
            steps: [
                (.request(0), .startSync),
                (.request(0.1), .none),
                (.request(0.2), .none),
                (.timer(0.3), .none),
                (.succeeded(0.4), .scheduleTimer(at: t(1))),
                (.request(0.5), .none),
                (.timer(1), .startSync),
                (.succeeded(1.2), .scheduleTimer(at: t(31.2))),
            ]),
        Scenario(
            name: "a request during a sync longer than the window syncs again at once",
            steps: [
                (.request(0), .startSync),
                (.request(0.5), .none),
                (.succeeded(3), .startSync),
                (.succeeded(3.5), .scheduleTimer(at: t(33.5))),
            ]),
        Scenario(
            name: "the periodic timer syncs without any request",
            steps: [
                (.start(0), .scheduleTimer(at: t(30))),
                (.timer(30), .startSync),
                (.succeeded(30.5), .scheduleTimer(at: t(60.5))),
                (.timer(60.5), .startSync),
            ]),
        Scenario(
            name: "an early timer is re-armed for the same deadline",
            steps: [
                (.start(0), .scheduleTimer(at: t(30))),
                (.timer(29.9), .scheduleTimer(at: t(30))),
                (.timer(30), .startSync),
            ]),
        Scenario(
            name: "failures back off from minSyncPeriod, doubling, capped at syncPeriod", syncPeriod: .seconds(10),
            steps: [
                (.request(0), .startSync),
                (.failed(0), .scheduleTimer(at: t(1))),
                (.timer(1), .startSync),
                (.failed(1), .scheduleTimer(at: t(3))),
                (.timer(3), .startSync),
                (.failed(3), .scheduleTimer(at: t(7))),
                (.timer(7), .startSync),
                (.failed(7), .scheduleTimer(at: t(15))),
                (.timer(15), .startSync),
                (.failed(15), .scheduleTimer(at: t(25))),
                (.timer(25), .startSync),
                (.succeeded(25), .scheduleTimer(at: t(35))),
                (.timer(35), .startSync),
                (.failed(35), .scheduleTimer(at: t(36))),
            ]),
        Scenario(
            name: "a change request is not held back by the failure backoff",
            steps: [
                (.request(0), .startSync),
                (.failed(0), .scheduleTimer(at: t(1))),
                (.timer(1), .startSync),
                (.failed(1), .scheduleTimer(at: t(3))),
                (.request(1.5), .scheduleTimer(at: t(2))),
                (.timer(2), .startSync),
            ]),
        Scenario(
            name: "a request during a failing sync retries after the window",
            steps: [
                (.request(0), .startSync),
                (.request(0.2), .none),
                (.failed(0.3), .scheduleTimer(at: t(1))),
                (.timer(1), .startSync),
            ]),
        Scenario(
            name: "a minSyncPeriod of zero still waits 1 s before retrying a failure", minSyncPeriod: .zero,
            steps: [
                (.request(0), .startSync),
                (.request(0.1), .none),
                (.succeeded(0.1), .startSync),
                (.failed(0.2), .scheduleTimer(at: t(1.2))),
            ]),
        Scenario(
            name: "misplaced results and timers are ignored",
            steps: [
                (.succeeded(0), .none),
                (.failed(0), .none),
                (.timer(0), .none),
                (.start(0), .scheduleTimer(at: t(30))),
                (.succeeded(1), .none),
                (.failed(1), .none),
                (.request(1), .startSync),
                (.timer(40), .none),
            ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var machine = Machine(
            configuration: .init(minSyncPeriod: scenario.minSyncPeriod, syncPeriod: scenario.syncPeriod))
        for (index, (event, expected)) in scenario.steps.enumerated() {
            let action: Machine.Action
            switch event {
            case .start(let at): action = machine.start(now: t(at))
            case .request(let at): action = machine.requestSync(now: t(at))
            case .timer(let at): action = machine.timerFired(now: t(at))
            case .succeeded(let at): action = machine.syncSucceeded(now: t(at))
            case .failed(let at): action = machine.syncFailed(now: t(at))
            }
            #expect(action == expected, "step \(index): \(event)")
        }
    }

    @Test func reportsSyncingAndDeadline() {
        var machine = Machine()
        #expect(machine.timerDeadline == nil)
        _ = machine.start(now: t(0))
        #expect(machine.timerDeadline == t(30))
        #expect(!machine.isSyncing)
        _ = machine.requestSync(now: t(1))
        #expect(machine.isSyncing)
        #expect(machine.timerDeadline == nil)
        _ = machine.syncFailed(now: t(1))
        #expect(machine.consecutiveFailures == 1)
        _ = machine.timerFired(now: t(2))
        _ = machine.syncSucceeded(now: t(2))
        #expect(machine.consecutiveFailures == 0)
    }

    @Test(arguments: [
        (Duration.seconds(1), Duration.seconds(30), Duration.seconds(1), Duration.seconds(30)),
        (.seconds(10), .seconds(5), .seconds(10), .seconds(10)),
        (.seconds(-1), .seconds(30), .zero, .seconds(30)),
    ])
    func configurationClampsPeriods(min: Duration, period: Duration, expectedMin: Duration, expectedPeriod: Duration) {
        let configuration = Machine.Configuration(minSyncPeriod: min, syncPeriod: period)
        #expect(configuration.minSyncPeriod == expectedMin)
        #expect(configuration.syncPeriod == expectedPeriod)
    }
}
