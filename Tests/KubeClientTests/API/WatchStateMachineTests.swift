import Foundation
import KubeAPI
import Testing

@testable import KubeClient

private typealias Machine = WatchStateMachine<Service>

private func makeMachine(random: Double = 0) -> Machine {
    Machine(resource: .services, server: "https://api.test:6443", random: { random })
}

private func ok(_ body: [UInt8]) -> APIResponse {
    APIResponse(status: 200, body: body)
}

extension WatchStateMachine.Action {
    fileprivate var request: APIRequest? {
        switch self {
        case .list(let request), .watch(let request): request
        case .wait, .keepReading: nil
        }
    }

    fileprivate var isList: Bool {
        if case .list = self { return true }
        return false
    }

    fileprivate var isWatch: Bool {
        if case .watch = self { return true }
        return false
    }

    fileprivate var delay: Duration? {
        if case .wait(let delay) = self { return delay }
        return nil
    }
}

/// A machine that has listed `items` at `rv` and opened its watch at time zero.
private func syncedMachine(_ items: [Service], rv: String = "10") -> Machine {
    var machine = makeMachine()
    _ = machine.start()
    _ = machine.listResponded(ok(listBody(items, rv: rv)), now: .zero)
    return machine
}

@Suite struct WatchStateMachineTests {
    @Test func firstListIsPagedFromTheWatchCache() throws {
        var machine = makeMachine()
        let request = try #require(machine.start().action.request)
        #expect(request.path == "/api/v1/services")
        #expect(request["resourceVersion"] == "0")
        #expect(request["limit"] == "500")
        #expect(request["continue"] == nil)
        #expect(request["labelSelector"] == "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless")
        #expect(!request.isWatch)
    }

    @Test func pagedListFollowsContinueThenWatchesFromTheListVersion() throws {
        var machine = makeMachine()
        _ = machine.start()
        let first = machine.listResponded(ok(listBody([service("a", rv: "3")], rv: "10", continue: "tok+/=")), now: .zero)
        #expect(first.changes.isEmpty)
        #expect(!first.completedList)
        let page = try #require(first.action.request)
        #expect(page["continue"] == "tok+/=")
        #expect(page["limit"] == "500")
        #expect(page["resourceVersion"] == nil)

        let last = machine.listResponded(ok(listBody([service("b", rv: "7")], rv: "10")), now: .zero)
        #expect(last.changes.summaries == ["added default/a", "added default/b"])
        #expect(last.completedList)
        let watch = try #require(last.action.request)
        #expect(last.action.isWatch)
        #expect(watch["resourceVersion"] == "10")
        #expect(watch["allowWatchBookmarks"] == "true")
        #expect(watch["labelSelector"] == page["labelSelector"])
        #expect(machine.resourceVersion == "10")
    }

    @Test(arguments: [(0.0, "300"), (0.5, "450"), (0.99999, "600")])
    func watchTimeoutIsDrawnFromFiveToTenMinutes(random: Double, expected: String) throws {
        var machine = makeMachine(random: random)
        _ = machine.start()
        let step = machine.listResponded(ok(listBody([Service](), rv: "1")), now: .zero)
        #expect(step.action.request?["timeoutSeconds"] == expected)
    }

    @Test func bookmarkMovesOnlyTheResumePoint() throws {
        var machine = syncedMachine([service("a", rv: "3")])
        let step = machine.watchLine(bookmarkLine(rv: "42"), now: .seconds(1))
        #expect(step.changes.isEmpty)
        #expect(step.action == .keepReading)
        #expect(machine.resourceVersion == "42")
        #expect(machine.delivered.keys.sorted() == ["default/a"])

        let next = machine.watchEnded(APIResponse(status: 200), truncated: false, now: .seconds(300))
        #expect(next.problem == nil)
        #expect(next.action.isWatch)
        #expect(next.action.request?["resourceVersion"] == "42")
    }

    @Test func cleanEndWatchesAgainFromTheLastEventWithoutRelisting() throws {
        var machine = syncedMachine([service("a", rv: "3")])
        let modified = machine.watchLine(watchLine("MODIFIED", service("a", rv: "12", port: 81)), now: .seconds(1))
        #expect(modified.changes.summaries == ["updated default/a 3→12"])
        let added = machine.watchLine(watchLine("ADDED", service("b", rv: "13")), now: .seconds(2))
        #expect(added.changes.summaries == ["added default/b"])

        let next = machine.watchEnded(APIResponse(status: 200), truncated: false, now: .seconds(400))
        #expect(next.action.isWatch)
        #expect(next.action.request?["resourceVersion"] == "13")
        #expect(next.changes.isEmpty)
    }

    @Test func aVeryShortEmptyWatchBacksOffThenWatchesAgain() throws {
        var machine = syncedMachine([])
        let ended = machine.watchEnded(APIResponse(status: 200), truncated: false, now: .milliseconds(100))
        #expect(ended.action.delay == .milliseconds(800))
        #expect(machine.retry(now: .seconds(1)).action.isWatch)
    }

    @Test func expiredErrorEventRelistsAndEmitsOnlyTheDifference() throws {
        var machine = syncedMachine([service("a", rv: "1"), service("b", rv: "2"), service("c", rv: "3")], rv: "5")
        _ = machine.watchLine(bookmarkLine(rv: "9"), now: .seconds(1))
        let expired = machine.watchLine(expiredLine, now: .seconds(2))
        #expect(expired.action.delay != nil)
        let problem = try #require(expired.problem)
        #expect(problem.routine)
        #expect(problem.error.status == 410)
        #expect(problem.error.reason == "Expired")

        let relist = try #require(machine.retry(now: .seconds(3)).action.request)
        #expect(!relist.isWatch)
        #expect(relist["resourceVersion"] == "9")
        #expect(relist["limit"] == nil)

        // While we were away: b changed, c was deleted, d was created; a is untouched.
        let items = [service("a", rv: "1"), service("b", rv: "7", port: 82), service("d", rv: "8")]
        let listed = machine.listResponded(ok(listBody(items, rv: "20")), now: .seconds(3))
        #expect(listed.changes.summaries == ["updated default/b 2→7", "added default/d", "deleted default/c"])
        #expect(listed.completedList)
        #expect(listed.action.request?["resourceVersion"] == "20")
        #expect(machine.delivered.keys.sorted() == ["default/a", "default/b", "default/d"])
    }

    @Test func expiredStatusWhenOpeningTheWatchRelists() throws {
        var machine = syncedMachine([service("a", rv: "1")])
        let body = statusBody(code: 410, reason: "Gone", message: "too old resource version")
        let ended = machine.watchEnded(APIResponse(status: 410, body: body), truncated: false, now: .seconds(1))
        #expect(ended.action.delay != nil)
        #expect(ended.problem?.error.status == 410)
        #expect(machine.retry(now: .seconds(2)).action.isList)
    }

    @Test(arguments: [
        (410, "Expired", ""), (504, "Timeout", "Too large resource version: 12, current: 10"),
    ])
    func relistAtAVersionTheServerLacksFallsBackToAConsistentRead(code: Int, reason: String, message: String) throws {
        var machine = syncedMachine([service("a", rv: "1")])
        _ = machine.watchLine(expiredLine, now: .seconds(1))
        _ = machine.retry(now: .seconds(2))
        let body = statusBody(code: code, reason: reason, message: message)
        let step = machine.listResponded(APIResponse(status: code, body: body), now: .seconds(2))
        #expect(step.action.delay == nil)
        let consistent = try #require(step.action.request)
        #expect(consistent["resourceVersion"] == nil)
        #expect(consistent["continue"] == nil)
    }

    @Test func expiredContinueTokenRestartsTheListWithoutPaging() throws {
        var machine = makeMachine()
        _ = machine.start()
        _ = machine.listResponded(ok(listBody([service("a", rv: "3")], rv: "10", continue: "old")), now: .zero)
        let body = statusBody(code: 410, reason: "Expired", message: "continue token expired")
        let restart = machine.listResponded(APIResponse(status: 410, body: body), now: .zero)
        let request = try #require(restart.action.request)
        #expect(request["resourceVersion"] == "0")
        #expect(request["limit"] == nil)
        #expect(request["continue"] == nil)

        let done = machine.listResponded(ok(listBody([service("a", rv: "3"), service("b", rv: "4")], rv: "11")), now: .zero)
        #expect(done.changes.summaries == ["added default/a", "added default/b"])
        #expect(done.action.request?["resourceVersion"] == "11")
    }

    @Test func aServerThatPaginatedTheFirstListIsPagedOnRelists() throws {
        var machine = makeMachine()
        _ = machine.start()
        _ = machine.listResponded(ok(listBody([service("a", rv: "3")], rv: "10", continue: "next")), now: .zero)
        _ = machine.listResponded(ok(listBody([service("b", rv: "4")], rv: "10")), now: .zero)
        _ = machine.watchLine(expiredLine, now: .seconds(1))
        let relist = try #require(machine.retry(now: .seconds(2)).action.request)
        #expect(relist["resourceVersion"] == "10")
        #expect(relist["limit"] == "500")
    }

    @Test func repeatedFailuresBackOffExponentiallyUpToTheCap() {
        var machine = makeMachine(random: 0)
        _ = machine.start()
        var delays: [Duration] = []
        for _ in 0..<8 {
            let step = machine.listResponded(
                APIResponse(status: 500, body: statusBody(code: 500, reason: "InternalError")), now: .seconds(1))
            delays.append(step.action.delay ?? .zero)
            #expect(step.failedList)
            _ = machine.retry(now: .seconds(1))
        }
        #expect(
            delays == [
                .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
                .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30),
            ])
    }

    @Test func jitterStretchesEachDelayByLessThanItsBase() {
        var machine = makeMachine(random: 0.999)
        _ = machine.start()
        let step = machine.listFailed(.transport(url: "https://api.test:6443", message: "connection refused"), now: .zero)
        let delay = step.action.delay ?? .zero
        #expect(delay > .milliseconds(1590))
        #expect(delay < .milliseconds(1600))
    }

    @Test func tooManyRequestsWaitsForRetryAfterAndWatchesAgain() throws {
        var machine = syncedMachine([service("a", rv: "1")])
        let response = APIResponse(
            status: 429, body: statusBody(code: 429, reason: "TooManyRequests"), retryAfterSeconds: 7)
        let step = machine.watchEnded(response, truncated: false, now: .seconds(1))
        #expect(step.action.delay == .seconds(7))
        let next = machine.retry(now: .seconds(8))
        #expect(next.action.isWatch)
        #expect(next.action.request?["resourceVersion"] == "10")
    }

    @Test func aBrokenConnectionBacksOffAndWatchesFromTheLastVersion() throws {
        var machine = syncedMachine([service("a", rv: "1")])
        _ = machine.watchLine(watchLine("ADDED", service("b", rv: "11")), now: .seconds(1))
        let failed = machine.watchFailed(.transport(url: "u", message: "connection reset by peer"), now: .seconds(2))
        #expect(failed.action.delay == .milliseconds(800))
        #expect(failed.problem?.routine == false)
        let next = machine.retry(now: .seconds(3))
        #expect(next.action.isWatch)
        #expect(next.action.request?["resourceVersion"] == "11")
    }

    @Test func aStreamCutInTheMiddleOfAnEventIsAFailure() {
        var machine = syncedMachine([])
        let step = machine.watchEnded(APIResponse(status: 200), truncated: true, now: .seconds(100))
        #expect(step.action.delay != nil)
        let message = step.problem.map { "\($0.error)" } ?? ""
        #expect(message.contains("middle of an event"))
        #expect(machine.retry(now: .seconds(101)).action.isWatch)
    }

    @Test(arguments: [#"{"type":"SURPRISE","object":{}}"#, #"{"type":"ADDED","object":{"metadata":7}}"#, "not json"])
    func anUnintelligibleLineRelists(line: String) {
        var machine = syncedMachine([service("a", rv: "1")])
        let step = machine.watchLine(Array(line.utf8), now: .seconds(1))
        guard case .protocolViolation = step.problem?.error else {
            Issue.record("expected a protocol violation, got \(String(describing: step.problem))")
            return
        }
        #expect(step.action.delay != nil)
        #expect(machine.retry(now: .seconds(2)).action.isList)
    }

    @Test func aWatchEventAboveTheLimitBacksOffAndRelistsFromTheLastVersion() throws {
        var machine = syncedMachine([service("a", rv: "1")])
        _ = machine.watchLine(watchLine("ADDED", service("b", rv: "11")), now: .seconds(1))
        let step = machine.watchEventTooLarge(limit: 16 << 20, now: .seconds(2))
        guard case .tooLarge(let url, "watch event", 16 << 20) = step.problem?.error else {
            Issue.record("expected a too-large error, got \(String(describing: step.problem))")
            return
        }
        #expect(url.hasPrefix("https://api.test:6443/api/v1/services?"))
        #expect("\(try #require(step.problem))".contains("watch event larger than the 16 MiB limit; relisting in 0.8 s"))
        #expect(step.action.delay == .milliseconds(800))
        let relist = try #require(machine.retry(now: .seconds(3)).action.request)
        #expect(!relist.isWatch)
        #expect(relist["resourceVersion"] == "11")
    }

    @Test func aListAboveTheLimitIsAFailedListRetriedWithBackoff() throws {
        var machine = makeMachine()
        let first = try #require(machine.start().action.request)
        let step = machine.listFailed(.tooLarge(url: "u", what: "response body", limit: 256 << 20), now: .zero)
        #expect(step.failedList)
        #expect(step.action.delay == .milliseconds(800))
        #expect(machine.retry(now: .seconds(1)).action.request == first)
    }

    @Test func otherErrorEventsRelistAfterABackoff() {
        var machine = syncedMachine([service("a", rv: "1")])
        let line = #"{"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError","message":"etcd"}}"#
        let step = machine.watchLine(Array(line.utf8), now: .seconds(1))
        #expect(step.problem?.error.status == 500)
        #expect(step.problem?.routine == false)
        #expect(machine.retry(now: .seconds(2)).action.isList)
    }

    @Test func watchEventsKeepTheChangeContract() {
        var machine = syncedMachine([service("a", rv: "1")])
        #expect(machine.watchLine(watchLine("ADDED", service("a", rv: "1")), now: .seconds(1)).changes.isEmpty)
        #expect(machine.watchLine(watchLine("DELETED", service("zz", rv: "5")), now: .seconds(1)).changes.isEmpty)
        let deleted = machine.watchLine(watchLine("DELETED", service("a", rv: "6", port: 99)), now: .seconds(1))
        // The store keeps identities, not objects: `old` is the last delivered version's placeholder.
        #expect(deleted.changes == [.deleted(Service(metadata: ObjectMeta(name: "a", namespace: "default", resourceVersion: "1")))])
        #expect(machine.resourceVersion == "6")
    }

    @Test func unauthorizedListsAreRetriedWithBackoff() {
        var machine = makeMachine()
        _ = machine.start()
        let step = machine.listResponded(
            APIResponse(status: 401, body: statusBody(code: 401, reason: "Unauthorized")), now: .zero)
        #expect(step.failedList)
        #expect(step.problem?.error.status == 401)
        #expect(step.action.delay == .milliseconds(800))
        #expect(machine.retry(now: .seconds(1)).action.request?["resourceVersion"] == "0")
    }

    @Test func eventsForAnotherStateAreIgnored() {
        var machine = makeMachine()
        _ = machine.start()
        #expect(machine.watchLine(watchLine("ADDED", service("a", rv: "1")), now: .zero).action == .keepReading)
        #expect(machine.delivered.isEmpty)
    }
}
