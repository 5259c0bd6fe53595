import Foundation
import KubeAPI
import KubeProxyCore
import KubeProxyTesting
import Logging
import MetricsTestKit
import ServiceLifecycle
import Testing

@testable import KubeProxyRuntime

@Suite(.timeLimit(.minutes(1)))
struct HealthServerTests {
    /// A running server on 127.0.0.1 with a manual time source and MetricsTestKit metrics.
    struct Fixture {
        let time = TestTime()
        let metrics = TestMetrics()
        let health: HealthHolder
        let server: HealthServer
        var port = 0

        init() {
            health = HealthHolder(syncPeriod: .seconds(30), now: { [time] in time.now })
            server = HealthServer(
                address: HostPort("127.0.0.1:0")!, health: health, metrics: ProxyMetrics(factory: metrics),
                logger: silentLogger)
        }

        func get(_ path: String, method: String = "GET") throws -> RawHTTPResponse {
            try RawHTTP.get(path, port: port, method: method)
        }

        func count(_ name: String, code: Int) -> Int64 {
            (try? metrics.expectCounter(name, [("code", String(code))]).totalValue) ?? 0
        }
    }

    private func withServer(_ body: (Fixture) async throws -> Void) async throws {
        var fixture = Fixture()
        fixture.port = try await fixture.server.start()
        do {
            try await body(fixture)
        } catch {
            await fixture.server.shutdown()
            throw error
        }
        await fixture.server.shutdown()
    }

    @Test func healthyAtStartup() async throws {
        try await withServer { f in
            let response = try f.get("/healthz")
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.headers["x-content-type-options"] == "nosniff")
            #expect(
                response.body
                    == #"{"lastUpdated":"2024-05-01T10:00:00Z","currentTime":"2024-05-01T10:00:00Z","healthy":true}"#)
            #expect(f.count(MetricNames.healthzTotal, code: 200) == 1)
        }
    }

    @Test func syncedFamilyReportsStatusAndNowAsLastUpdated() async throws {
        try await withServer { f in
            f.health.nodeChanged(Node(metadata: ObjectMeta(name: "node-a")))
            f.health.queued(.ipv4)
            f.time.advance(by: .seconds(2))
            f.health.updated(.ipv4)
            f.time.advance(by: .seconds(10))
            let response = try f.get("/healthz")
            #expect(response.status == 200)
            #expect(
                response.body
                    == #"{"lastUpdated":"2024-05-01T10:00:12Z","currentTime":"2024-05-01T10:00:12Z","nodeEligible":true,"#
                    + #""healthy":true,"status":{"IPv4":{"lastUpdated":"2024-05-01T10:00:02Z","healthy":true}}}"#)
        }
    }

    @Test func stalePendingChangeFailsBothEndpointsAndKeepsTheRealLastUpdate() async throws {
        try await withServer { f in
            f.health.updated(.ipv4)
            f.time.advance(by: .seconds(5))
            f.health.queued(.ipv4)
            f.time.advance(by: .seconds(60))
            let healthz = try f.get("/healthz")
            #expect(healthz.status == 503)
            #expect(
                healthz.body
                    == #"{"lastUpdated":"2024-05-01T10:00:00Z","currentTime":"2024-05-01T10:01:05Z","healthy":false,"#
                    + #""status":{"IPv4":{"lastUpdated":"2024-05-01T10:00:00Z","healthy":false}}}"#)
            let livez = try f.get("/livez")
            #expect(livez.status == 503)
            #expect(livez.headers["content-type"] == "application/json")
            #expect(f.count(MetricNames.healthzTotal, code: 503) == 1)
            #expect(f.count(MetricNames.livezTotal, code: 503) == 1)
            #expect(f.count(MetricNames.livezTotal, code: 200) == 0)
        }
    }

    @Test func nodeMarkedForDeletionFailsHealthzButNotLivez() async throws {
        try await withServer { f in
            f.health.nodeChanged(
                Node(
                    metadata: ObjectMeta(name: "node-a"),
                    spec: NodeSpec(taints: [Taint(key: "ToBeDeletedByClusterAutoscaler")])))
            let healthz = try f.get("/healthz")
            #expect(healthz.status == 503)
            #expect(healthz.body.contains(#""nodeEligible":false,"healthy":true"#))
            let livez = try f.get("/livez")
            #expect(livez.status == 200)
            #expect(!livez.body.contains("nodeEligible"))
            #expect(f.count(MetricNames.healthzTotal, code: 503) == 1)
            #expect(f.count(MetricNames.livezTotal, code: 200) == 1)
        }
    }

    @Test(arguments: ["/", "/healthz/", "/metrics", "/livezz"])
    func otherPathsAreNotFound(path: String) async throws {
        try await withServer { f in
            let response = try f.get(path)
            #expect(response.status == 404)
            #expect(response.body == "404 page not found\n")
            #expect(
                f.metrics.counters.allSatisfy {
                    $0.label != MetricNames.healthzTotal && $0.label != MetricNames.livezTotal
                })
        }
    }

    @Test func queryStringsAndOtherMethodsAreServedLikeGoMux() async throws {
        try await withServer { f in
            #expect(try f.get("/livez?verbose=1").status == 200)
            let head = try f.get("/healthz", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)
        }
    }

    @Test func keepAliveConnectionServesSeveralRequests() async throws {
        try await withServer { f in
            let probe = try HTTPProbe(host: "127.0.0.1", port: f.port)
            defer { probe.close() }
            #expect(try probe.get("/livez").contains(#""healthy":true"#))
            f.health.queued(.ipv6)
            f.time.advance(by: .seconds(61))
            #expect(try probe.get("/livez").contains(#""healthy":false"#))
        }
    }

    @Test func bindFailureNamesTheAddressAndTheOSError() async throws {
        try await withServer { f in
            let second = HealthServer(
                address: HostPort("127.0.0.1:\(f.port)")!, health: f.health, metrics: ProxyMetrics(factory: f.metrics),
                logger: silentLogger)
            let error = await #expect(throws: ServerBindError.self) { try await second.start() }
            #expect(error?.address == "127.0.0.1:\(f.port)")
            #expect(error?.errno == EADDRINUSE)
            #expect(error?.description.contains("healthz") == true)
        }
    }

    @Test func runServesUntilGracefulShutdownThenClosesThePort() async throws {
        let f = Fixture()
        let group = ServiceGroup(services: [f.server], logger: silentLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // start() is idempotent: it returns the port run() bound (or binds it first).
            let port = try await f.server.start()
            #expect(try RawHTTP.get("/livez", port: port).status == 200)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            // Usually "refused"; in a parallel suite another test may already have been given the
            // freed ephemeral port and reset us, so any failure to get an answer counts as closed.
            #expect(throws: RawHTTP.Failure.self) { try RawHTTP.get("/livez", port: port) }
        }
    }

    @Test func runWithoutRetryEndsWithTheBindError() async throws {
        try await withServer { f in
            let second = HealthServer(
                address: HostPort("127.0.0.1:\(f.port)")!, health: f.health, metrics: ProxyMetrics(factory: f.metrics),
                logger: silentLogger, bindRetryInterval: nil)
            await #expect(throws: ServerBindError.self) { try await second.run() }
        }
    }
}
