import Foundation
import KubeAPI
import KubeProxyTesting
import Logging
import Testing

@testable import KubeClient

private let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
private let services = WatchResource.services.path
private let slices = WatchResource.endpointSlices.path

private func ok(_ body: [UInt8]) -> ScriptedTransport.Reply {
    .response(APIResponse(status: 200, body: body))
}

private func limits(watchEventBytes: Int = APILimits().watchEventBytes, listBodyBytes: Int = APILimits().listBodyBytes)
    -> APILimits
{
    var limits = APILimits()
    limits.watchEventBytes = watchEventBytes
    limits.listBodyBytes = listBodyBytes
    return limits
}

/// Runs `source` while `body` inspects it, then cancels it.
private func running(_ source: APISource, _ body: @Sendable (EventRecorder) async throws -> Void) async throws {
    let recorder = EventRecorder()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await source.run { await recorder.record($0) } }
        try await body(recorder)
        group.cancelAll()
        try await group.waitForAll()
    }
}

/// Polls `condition` every 20 ms for up to `timeout` of real time.
private func eventually(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// What the API server sends beyond the documented limits costs an error, a backoff and a
/// relist, never unbounded memory.
@Suite(.timeLimit(.minutes(1))) struct APISizeLimitTests {
    @Test func anEndlessWatchLineIsDroppedAndTheWatcherRelistsAfterABackoff() async throws {
        let transport = ScriptedTransport()
        let clock = ManualClock()
        let logs = RecordingLogHandler.Store()
        transport.onGet(EndpointsDiscovery.path, ok([]))
        transport.onGet(
            services, ok(listBody([service("a", rv: "1")], rv: "10")), ok(listBody([service("a", rv: "1")], rv: "12")))
        transport.onGet(slices, ok(listBody([EndpointSlice](), rv: "11")))
        let endless = [[UInt8]](repeating: [UInt8](repeating: UInt8(ascii: "a"), count: 512), count: 100)
        transport.onWatch(services, .stream([Array(#"{"type":"ADDED","object":{"metadata":{"name":""#.utf8)] + endless, end: .hang))
        let source = APISource(
            config: ClientConfiguration(server: "https://api.test"), nodeName: "", useEndpoints: false, transport: transport,
            clock: clock, random: { 0 }, limits: limits(watchEventBytes: 4096), logger: logs.logger)
        try await running(source) { recorder in
            #expect(await recorder.next(2).count == 2)
            await clock.waitForSleeper(until: .init(offset: .milliseconds(800)))
            let warnings = logs.messages(at: .warning)
            #expect(warnings.contains { $0.contains("watch event larger than the 4 KiB limit; relisting in 0.8 s") })
            clock.advance(by: .milliseconds(800))
            let requests = await transport.waitForRequests(services, count: 4)
            #expect(requests.map(\.isWatch) == [false, true, false, true])
            #expect(requests[2]["resourceVersion"] == "10")
            #expect(requests[3]["resourceVersion"] == "12")
        }
    }

    @Test func aListAboveTheLimitFailsAndIsRetriedAfterABackoff() async throws {
        let transport = ScriptedTransport()
        let clock = ManualClock()
        let logs = RecordingLogHandler.Store()
        transport.onGet(EndpointsDiscovery.path, ok([]))
        let tooLarge = APIClientError.tooLarge(url: "https://api.test/api/v1/services", what: "response body", limit: 1 << 20)
        transport.onGet(services, .error(tooLarge), ok(listBody([service("a", rv: "1")], rv: "10")))
        transport.onGet(slices, ok(listBody([EndpointSlice](), rv: "11")))
        let source = APISource(
            config: ClientConfiguration(server: "https://api.test"), nodeName: "", useEndpoints: false, transport: transport,
            clock: clock, random: { 0 }, logger: logs.logger)
        try await running(source) { recorder in
            await clock.waitForSleeper(until: .init(offset: .milliseconds(800)))
            #expect(await recorder.next(1, within: .milliseconds(50)).isEmpty)
            #expect(
                logs.messages(at: .warning).contains {
                    $0.contains("response body larger than the 1 MiB limit; relisting in 0.8 s")
                })
            clock.advance(by: .milliseconds(800))
            #expect(await recorder.next(2).count == 2)
        }
    }

    @Test func theRealTransportRefusesAListBodyAboveTheLimitAndReadsOneBelowIt() async throws {
        let server = try await HostileAPIServer.start(.init(oversizedLists: [services: 4 << 20, slices: 100 << 10]))
        let configuration = ClientConfiguration(server: server.url)
        let transport = try HTTPTransport(
            configuration: configuration, credentials: CredentialProvider(configuration: configuration, logger: quiet),
            limits: limits(listBodyBytes: 1 << 20), logger: quiet)
        let request = APIRequest(path: services, query: [("limit", "500")])
        await #expect(
            throws: APIClientError.tooLarge(url: server.url + services + "?limit=500", what: "response body", limit: 1 << 20)
        ) {
            try await transport.get(request)
        }
        let small = try await transport.get(APIRequest(path: slices))
        #expect(small.status == 200)
        #expect(small.body.count > 100 << 10)
        await transport.shutdown()
        await server.shutdown()
    }

    @Test func theRealSourceBacksOffAndRelistsWhenTheServerSendsAnEndlessWatchLine() async throws {
        let server = try await HostileAPIServer.start(.init(endlessWatchPaths: [services], streamCap: 64 << 20))
        let logs = RecordingLogHandler.Store()
        let source = APISource(
            config: ClientConfiguration(server: server.url), nodeName: "", useEndpoints: false, transport: nil,
            limits: limits(watchEventBytes: 1 << 20), logger: logs.logger)
        try await running(source) { recorder in
            #expect(await recorder.next(1).count == 1)
            #expect(await eventually { server.counts(services).gets >= 2 })
            let warnings = logs.messages(at: .warning).filter { $0.contains("watch event larger than the 1 MiB limit") }
            #expect(!warnings.isEmpty)
            #expect(warnings.first?.contains("relisting in") == true)
            // Each stream was abandoned soon after the limit (plus what socket buffers hold), not
            // read to the server's 64 MiB cap.
            #expect(server.bytesStreamed < server.counts(services).watches * (24 << 20))
        }
        await server.shutdown()
    }
}
