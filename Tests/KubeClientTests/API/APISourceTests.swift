import Foundation
import KubeAPI
import KubeProxyTesting
import Logging
import Testing

@testable import KubeClient

private let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
private let discovery = EndpointsDiscovery.path
private let services = WatchResource.services.path
private let slices = WatchResource.endpointSlices.path
private let endpoints = WatchResource.endpoints.path
private let nodes = "/api/v1/nodes"

private func slice(_ name: String, rv: String) -> EndpointSlice {
    EndpointSlice(
        metadata: ObjectMeta(
            name: name, namespace: "default", resourceVersion: rv, labels: [WellKnownLabels.serviceName: "web"]),
        addressType: "IPv4")
}

private func node(_ name: String, rv: String) -> Node {
    Node(metadata: ObjectMeta(name: name, resourceVersion: rv))
}

private func ok(_ body: [UInt8]) -> ScriptedTransport.Reply {
    .response(APIResponse(status: 200, body: body))
}

extension SourceEvent {
    /// `added Service default/web`, `synced`, …, for every kind including Nodes.
    fileprivate var apiSummary: String {
        func describe<T>(_ change: ObjectChange<T>, _ kind: String, _ meta: (T) -> ObjectMeta) -> String {
            func name(_ object: T) -> String { "\(meta(object).namespace ?? "")/\(meta(object).name ?? "")" }
            switch change {
            case .added(let object): return "added \(kind) \(name(object))"
            case .updated(_, let new): return "updated \(kind) \(name(new))"
            case .deleted(let object): return "deleted \(kind) \(name(object))"
            }
        }
        switch self {
        case .synced: return "synced"
        case .service(let change): return describe(change, "Service", \.metadata)
        case .endpointSlice(let change): return describe(change, "EndpointSlice", \.metadata)
        case .endpoints(let change): return describe(change, "Endpoints", \.metadata)
        case .node(let change): return describe(change, "Node", \.metadata)
        case .serviceCIDR(let change): return describe(change, "ServiceCIDR", \.metadata)
        }
    }
}

/// Runs `source` while `body` inspects it, then cancels it and checks it returned normally.
private func running(
    _ source: APISource, _ body: @Sendable (EventRecorder) async throws -> Void
) async throws {
    let recorder = EventRecorder()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await source.run { await recorder.record($0) } }
        try await body(recorder)
        group.cancelAll()
        try await group.waitForAll()
    }
}

private func makeSource(
    _ transport: ScriptedTransport, clock: ManualClock = ManualClock(), nodeName: String = "node-1",
    useEndpoints: Bool = false
) -> APISource {
    APISource(
        config: ClientConfiguration(server: "https://api.test"), nodeName: nodeName, useEndpoints: useEndpoints,
        transport: transport, clock: clock, random: { 0 }, logger: quiet)
}

@Suite(.timeLimit(.minutes(1))) struct APISourceTests {
    @Test func emitsEverythingListedThenSyncedOnce() async throws {
        let transport = ScriptedTransport()
        transport.onGet(discovery, ok([]))
        transport.onGet(services, ok(listBody([service("a", rv: "1"), service("b", rv: "2")], rv: "10")))
        transport.onGet(slices, ok(listBody([slice("web-1", rv: "3")], rv: "11")))
        transport.onGet(nodes, ok(listBody([node("node-1", rv: "4")], rv: "12")))
        try await running(makeSource(transport)) { recorder in
            let events = await recorder.next(5).map(\.apiSummary)
            #expect(events.last == "synced")
            #expect(
                Set(events.dropLast()) == [
                    "added Service default/a", "added Service default/b", "added EndpointSlice default/web-1",
                    "added Node /node-1",
                ])
            // `#require`, not `!`: a short list (a starved machine) must fail this test, not crash the run.
            let a = try #require(events.firstIndex(of: "added Service default/a"))
            let b = try #require(events.firstIndex(of: "added Service default/b"))
            #expect(a < b)
            #expect(await recorder.next(1, within: .milliseconds(100)).isEmpty)
            let watches = await transport.waitForRequests(nodes, count: 2).filter(\.isWatch)
            #expect(watches.first?["fieldSelector"] == "metadata.name=node-1")
            #expect(watches.first?["resourceVersion"] == "12")
        }
    }

    @Test func aNodeThatCannotBeReadDoesNotHoldBackTheSync() async throws {
        let transport = ScriptedTransport()
        transport.onGet(discovery, ok([]))
        transport.onGet(services, ok(listBody([service("a", rv: "1")], rv: "10")))
        transport.onGet(slices, ok(listBody([EndpointSlice](), rv: "11")))
        transport.onGet(nodes, .response(APIResponse(status: 403, body: statusBody(code: 403, reason: "Forbidden"))))
        try await running(makeSource(transport)) { recorder in
            #expect(await recorder.next(2).map(\.apiSummary) == ["added Service default/a", "synced"])
        }
    }

    @Test func aFailingServiceListHoldsTheSyncUntilARetrySucceeds() async throws {
        let transport = ScriptedTransport()
        let clock = ManualClock()
        transport.onGet(discovery, ok([]))
        transport.onGet(
            services, .failure("connection refused"), ok(listBody([service("a", rv: "1")], rv: "10")))
        transport.onGet(slices, ok(listBody([EndpointSlice](), rv: "11")))
        try await running(makeSource(transport, clock: clock, nodeName: "")) { recorder in
            await clock.waitForSleeper(until: .init(offset: .milliseconds(800)))
            #expect(await recorder.next(1, within: .milliseconds(50)).isEmpty)
            clock.advance(by: .milliseconds(800))
            #expect(await recorder.next(2).map(\.apiSummary) == ["added Service default/a", "synced"])
            #expect(transport.requests(for: services).filter { !$0.isWatch }.count == 2)
        }
    }

    @Test func legacyEndpointsWhenTheServerHasNoEndpointSlices() async throws {
        let transport = ScriptedTransport()
        transport.onGet(discovery, .response(APIResponse(status: 404)))
        transport.onGet(services, ok(listBody([Service](), rv: "10")))
        let legacy = Endpoints(metadata: ObjectMeta(name: "web", namespace: "default", resourceVersion: "5"))
        transport.onGet(endpoints, ok(listBody([legacy], rv: "12")))
        try await running(makeSource(transport, nodeName: "")) { recorder in
            #expect(await recorder.next(2).map(\.apiSummary) == ["added Endpoints default/web", "synced"])
            #expect(transport.requests(for: slices).isEmpty)
        }
    }

    @Test func useEndpointsSkipsDiscovery() async throws {
        let transport = ScriptedTransport()
        transport.onGet(services, ok(listBody([Service](), rv: "10")))
        transport.onGet(endpoints, ok(listBody([Endpoints](), rv: "12")))
        try await running(makeSource(transport, nodeName: "", useEndpoints: true)) { recorder in
            #expect(await recorder.next(1).map(\.apiSummary) == ["synced"])
            #expect(transport.requests(for: discovery).isEmpty)
        }
    }

    @Test func anExpiredWatchRelistsAndDeliversWhatChangedWhileAway() async throws {
        let transport = ScriptedTransport()
        let clock = ManualClock()
        transport.onGet(discovery, ok([]))
        transport.onGet(services, ok(listBody([service("a", rv: "1"), service("b", rv: "2")], rv: "10")))
        transport.onGet(slices, ok(listBody([EndpointSlice](), rv: "11")))
        let modified = watchLine("MODIFIED", service("a", rv: "11", port: 81)) + [UInt8(ascii: "\n")]
        let cut = modified.count / 2
        transport.onWatch(
            services,
            .stream([Array(modified[..<cut]), Array(modified[cut...]), expiredLine + [10]], end: .hang))
        transport.onGet(services, ok(listBody([service("a", rv: "11", port: 81), service("c", rv: "15")], rv: "20")))
        try await running(makeSource(transport, clock: clock, nodeName: "")) { recorder in
            let initial = await recorder.next(3).map(\.apiSummary)
            #expect(initial.last == "synced")
            #expect(await recorder.next(1).map(\.apiSummary) == ["updated Service default/a"])
            await clock.waitForSleeper(until: .init(offset: .milliseconds(800)))
            clock.advance(by: .milliseconds(800))
            #expect(
                await recorder.next(2).map(\.apiSummary) == ["added Service default/c", "deleted Service default/b"])
            let requests = await transport.waitForRequests(services, count: 4)
            #expect(requests.map { $0.isWatch } == [false, true, false, true])
            #expect(requests[2]["resourceVersion"] == "11")
            #expect(requests[3]["resourceVersion"] == "20")
        }
    }

    @Test func aCleanWatchEndWatchesAgainWithoutRelisting() async throws {
        let transport = ScriptedTransport()
        let clock = ManualClock()
        transport.onGet(services, ok(listBody([service("a", rv: "1")], rv: "10")))
        transport.onGet(endpoints, ok(listBody([Endpoints](), rv: "12")))
        transport.onWatch(services, .stream([bookmarkLine(rv: "30") + [10]], end: .clean))
        try await running(makeSource(transport, clock: clock, nodeName: "", useEndpoints: true)) { _ in
            let requests = await transport.waitForRequests(services, count: 3)
            #expect(requests.map { $0.isWatch } == [false, true, true])
            #expect(requests.last?["resourceVersion"] == "30")
        }
    }
}
