import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// Fault injection and request accounting of the fake API server, as a client observes them.
@Suite("FakeAPIServer faults")
struct FakeAPIServerFaultTests {
    private func openLiveWatch(_ server: FakeAPIServer) async throws -> RawHTTPConnection {
        let (watch, head) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)")
        #expect(head.status == 200)
        #expect(await server.waitForWatches(1))
        return watch
    }

    @Test func dropConnectionsEndsWatchesMidStream() async throws {
        try await withFakeServer { server in
            let watch = try await openLiveWatch(server)
            try server.create(FakeAPISamples.service(name: "a", clusterIP: "192.0.2.10"))
            #expect(try await watch.event()?.type == "ADDED")
            server.dropConnections()
            let (events, failure) = await watch.drain()
            #expect(events.isEmpty)
            #expect(failure == .reset || failure == .closed)
            #expect(server.openWatchCount == 0)
        }
    }

    @Test func endWatchesEndsTheBodyAndKeepsTheConnection() async throws {
        try await withFakeServer { server in
            let watch = try await openLiveWatch(server)
            server.endWatches()
            let (events, failure) = await watch.drain()
            #expect(events.isEmpty)
            #expect(failure == nil)
            let token = server.token
            let response = try await offPool {
                try watch.send("GET", "/api/v1/services", token: token)
                return try watch.readResponse()
            }
            #expect(response.status == 200)
        }
    }

    @Test func sendGoneToWatchesIsAnExpiredErrorEventThenTheEnd() async throws {
        try await withFakeServer { server in
            let watch = try await openLiveWatch(server)
            server.sendGoneToWatches()
            let (events, failure) = await watch.drain()
            #expect(failure == nil)
            #expect(events.map(\.type) == ["ERROR"])
            #expect(events.first?.object["code"] == .int(410))
            #expect(events.first?.object["reason"]?.stringValue == "Expired")
            #expect(server.openWatchCount == 0)
        }
    }

    @Test(arguments: [(429, "TooManyRequests"), (500, "InternalError"), (503, "ServiceUnavailable")])
    func failNextAnswersWithStatusThenRecovers(code: Int, reason: String) async throws {
        try await withFakeServer { server in
            server.failNext(2, status: code, retryAfter: 3)
            for _ in 0..<2 {
                let failed = try await server.fetch("/api/v1/services?watch=true")
                #expect(failed.status == code)
                #expect(failed.head.headers["retry-after"] == "3")
                let status = try failed.decode(Status.self)
                #expect(status.reason == reason)
                #expect(status.details?.retryAfterSeconds == 3)
                #expect(try await server.fetch("/api").status == 200)
            }
            #expect(try await server.fetch("/api/v1/services").status == 200)
        }
    }

    @Test func stallHoldsRequestsUntilItIsOver() async throws {
        try await withFakeServer { server in
            server.stall(for: .seconds(2))
            let token = server.token
            let port = server.port
            let (early, late) = try await offPool {
                let connection = try RawHTTPConnection(port: port, timeout: .milliseconds(300))
                defer { connection.close() }
                try connection.send("GET", "/api/v1/services", token: token)
                let early = Result { try connection.readResponse() }
                connection.setTimeout(.seconds(5))
                return (early, try connection.readResponse())
            }
            #expect(throws: RawHTTPConnection.Failure.timedOut) { try early.get() }
            #expect(late.status == 200)
        }
    }

    @Test func requestsAreCountedPerPath() async throws {
        try await withFakeServer { server in
            _ = try await server.fetch("/api/v1/services?limit=10")
            _ = try await server.fetch("/api/v1/services")
            let (watch, _) = try await server.openWatch("/api/v1/services?watch=true&allowWatchBookmarks=true")
            _ = try await server.fetch("/apis/discovery.k8s.io/v1/endpointslices")
            #expect(server.requestCount(path: "/api/v1/services") == 3)
            #expect(server.requestCount(path: "/api/v1/services", watch: true) == 1)
            #expect(server.requestCount(path: "/api/v1/services", watch: false) == 2)
            #expect(server.requests.first?.query["limit"] == "10")
            #expect(server.requests.contains { $0.isWatch && $0.query["allowWatchBookmarks"] == "true" })
            server.resetRequestLog()
            #expect(server.requests.isEmpty)
            watch.close()
        }
    }
}
