import Foundation
import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

@Suite(.timeLimit(.minutes(1)))
struct ServiceHealthServersTests {
    static let web = NamespacedName(namespace: "default", name: "web")
    static let api = NamespacedName(namespace: "shop", name: "api")

    let time = TestTime()
    let health: HealthHolder
    let servers: ServiceHealthServers

    init() {
        health = HealthHolder(syncPeriod: .seconds(30), now: { [time] in time.now })
        servers = ServiceHealthServers(
            addresses: [IPAddress("127.0.0.1")!], family: .ipv4, health: health, logger: silentLogger)
    }

    private func port(of service: NamespacedName) async throws -> Int {
        try #require(await servers.listeningPorts[service]?.first)
    }

    @Test func answersWithUpstreamBodyAndHeaders() async throws {
        let failures = await servers.update([Self.web: (port: 0, localEndpoints: 2)])
        #expect(failures.isEmpty)
        let response = try RawHTTP.get("/anything/at/all", port: try await port(of: Self.web))
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["x-content-type-options"] == "nosniff")
        #expect(response.headers["x-load-balancing-endpoint-weight"] == "2")
        #expect(
            response.body
                == "{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"web\"\n\t},\n"
                + "\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}")
        await servers.shutdown()
    }

    @Test func noLocalEndpointIs503AndCountUpdatesReuseTheServer() async throws {
        await servers.update([Self.web: (port: 0, localEndpoints: 0)])
        let port = try await port(of: Self.web)
        let empty = try RawHTTP.get("/", port: port)
        #expect(empty.status == 503)
        #expect(empty.headers["x-load-balancing-endpoint-weight"] == "0")
        #expect(empty.body.contains("\"localEndpoints\": 0,"))
        await servers.update([Self.web: (port: 0, localEndpoints: 1)])
        #expect(try await self.port(of: Self.web) == port, "same port: the server was kept")
        #expect(try RawHTTP.get("/", port: port).status == 200)
        await servers.shutdown()
    }

    @Test func unhealthyProxyIs503EvenWithEndpoints() async throws {
        await servers.update([Self.web: (port: 0, localEndpoints: 3)])
        health.queued(.ipv4)
        time.advance(by: .seconds(60))
        let response = try RawHTTP.get("/", port: try await port(of: Self.web))
        #expect(response.status == 503)
        #expect(response.headers["x-load-balancing-endpoint-weight"] == "3")
        #expect(response.body.hasSuffix("\t\"serviceProxyHealthy\": false\n}"))
        await servers.shutdown()
    }

    @Test func removedServiceIsClosedAndOthersKeepServing() async throws {
        await servers.update([Self.web: (port: 0, localEndpoints: 1), Self.api: (port: 0, localEndpoints: 1)])
        let webPort = try await port(of: Self.web)
        let apiPort = try await port(of: Self.api)
        #expect(webPort != apiPort)
        await servers.update([Self.api: (port: 0, localEndpoints: 1)])
        #expect(await servers.listeningPorts[Self.web] == nil)
        #expect(throws: RawHTTP.Failure.refused) { try RawHTTP.get("/", port: webPort) }
        let api = try RawHTTP.get("/", port: apiPort)
        #expect(api.body.contains("\"namespace\": \"shop\""))
        await servers.shutdown()
        #expect(throws: RawHTTP.Failure.refused) { try RawHTTP.get("/", port: apiPort) }
    }

    @Test func bindFailureIsReportedRetriedAndAPortChangeReopens() async throws {
        // Occupy a port with another server, then ask for it. The port lies below the kernel's
        // ephemeral range (and below the 20000-30000 other tests pick from): between the
        // blocker's release and the retry, a parallel test's port-0 listener or outgoing
        // connection could otherwise take the freed port.
        let (blocker, taken) = try await Self.serverOutsideTheEphemeralRange()
        await servers.update([Self.web: (port: 0, localEndpoints: 1)])
        let firstPort = try await port(of: Self.web)

        let failures = await servers.update([
            Self.web: (port: taken, localEndpoints: 1), Self.api: (port: 0, localEndpoints: 1),
        ])
        #expect(failures.map(\.service) == [Self.web])
        #expect(failures.first?.port == taken)
        #expect(failures.first?.error.errno == EADDRINUSE)
        #expect(failures.first?.error.address == "127.0.0.1:\(taken)")
        #expect(await servers.listeningPorts[Self.web] == nil, "the old port was closed for the change")
        // The freed kernel-picked port may be taken at once by a parallel test's port-0
        // listener; what must not answer there any more is this service's health server.
        let atOldPort = try? RawHTTP.get("/", port: firstPort)
        #expect(atOldPort.map { !$0.body.contains("\"name\": \"web\"") } ?? true, "the old port was closed")
        #expect(await servers.listeningPorts[Self.api] != nil, "one failure does not stop the others")

        await blocker.shutdown()
        let retried = await servers.update([
            Self.web: (port: taken, localEndpoints: 1), Self.api: (port: 0, localEndpoints: 1),
        ])
        #expect(retried.isEmpty)
        #expect(await servers.listeningPorts[Self.web] == [taken])
        #expect(try RawHTTP.get("/", port: taken).body.contains("\"name\": \"web\""))
        await servers.shutdown()
    }

    private static func serverOutsideTheEphemeralRange() async throws -> (HTTPRouteServer, Int) {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let low = range?.first ?? 32768
        for _ in 0..<50 {
            let candidate = Int.random(in: 10000..<min(20000, low))
            let server = HTTPRouteServer(
                name: "blocker", ip: IPAddress("127.0.0.1")!, port: candidate,
                logger: silentLogger, route: { _ in .notFound })
            if let port = try? await server.start() { return (server, port) }
        }
        throw RawHTTP.Failure.failed("no free port below the ephemeral range \(low)")
    }

    @Test func updatesAfterShutdownOpenNothing() async throws {
        await servers.shutdown()
        let failures = await servers.update([Self.web: (port: 0, localEndpoints: 1)])
        #expect(failures.isEmpty)
        #expect(await servers.listeningPorts.isEmpty)
    }
}
