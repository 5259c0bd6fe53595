import KubeProxyCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// TCP statistics for scripted connections: exact bytes, connections, retries and failures.
@Suite("ListenerStatistics", .timeLimit(.minutes(1)))
struct ListenerStatisticsTests {
    typealias T = UserspaceProxyTests

    @Test(arguments: TCPRelayEngine.allCases) func relayedConnectionsAreCountedExactly(relay: TCPRelayEngine) async throws {
        let a = try await TestBackend.greeter("a")
        let proxy = T.proxy(relay: relay)
        let svc = T.service("count")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        try await TestClient.withSession(port: port) { session in
            #expect(try await session.line() == "a")
            try await session.send("hello\n")
            #expect(try await session.line() == "hello")
            #expect(try await T.statistics(proxy, svc).activeConnections == 1)
        }
        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(
            try await eventually {
                let stats = try await T.statistics(proxy, svc)
                return stats.activeConnections == 0 && stats.bytesBackendToClient == 10
            })
        let stats = try await T.statistics(proxy, svc)
        let expected = ListenerStatistics(
            activeConnections: 0, totalConnections: 2, bytesClientToBackend: 6, bytesBackendToClient: 10
        )
        #expect(stats == expected)
        await proxy.shutdown()
        await a.close()
    }

    /// No endpoints: one failure, no retry. A refused endpoint: every rung of the ladder is
    /// tried (one retry with two timeouts), then one failure.
    @Test(arguments: TCPRelayEngine.allCases) func failuresAndRetriesAreCounted(relay: TCPRelayEngine) async throws {
        let closed = try await TestBackend.closedPort()
        let proxy = T.proxy(dialTimeouts: [.milliseconds(100), .milliseconds(100)], relay: relay)
        let empty = T.service("empty")
        let dead = T.service("dead")
        _ = await proxy.apply(
            T.desired(ProxiedPort(name: empty, endpoints: []), ProxiedPort(name: dead, endpoints: [closed]))
        )
        #expect(try await TestClient.readToEnd(port: try await T.listeningPort(proxy, empty)) == "")
        #expect(try await TestClient.readToEnd(port: try await T.listeningPort(proxy, dead)) == "")
        #expect(try await eventually { try await T.statistics(proxy, dead).activeConnections == 0 })

        let emptyStats = try await T.statistics(proxy, empty)
        #expect(emptyStats.connectFailures == 1)
        #expect(emptyStats.connectRetries == 0)
        #expect(emptyStats.totalConnections == 1)
        let deadStats = try await T.statistics(proxy, dead)
        #expect(deadStats.connectFailures == 1)
        #expect(deadStats.connectRetries == 1)
        #expect(deadStats.bytesClientToBackend == 0)
        await proxy.shutdown()
    }

    @Test func statisticsCoverOpenListenersOnly() async throws {
        let proxy = T.proxy()
        let tcp = T.service("s")
        let udp = T.service("s", .udp)
        _ = await proxy.apply(T.desired(ProxiedPort(name: tcp, endpoints: []), ProxiedPort(name: udp, endpoints: [])))
        #expect(await proxy.statistics() == [tcp: ListenerStatistics(), udp: ListenerStatistics()])
        _ = await proxy.apply(T.desired(ProxiedPort(name: udp, endpoints: [])))
        #expect(await proxy.statistics().keys.sorted() == [udp])
        await proxy.shutdown()
        #expect(await proxy.statistics().isEmpty)
    }

    /// The report for totals leaves out listeners that have counted nothing; a listener that
    /// has (here one connection to a port without endpoints) is in it with its counts.
    @Test(arguments: TCPRelayEngine.allCases) func idleListenersCanBeLeftOut(relay: TCPRelayEngine) async throws {
        let proxy = T.proxy(relay: relay)
        let used = T.service("used")
        let idle = T.service("idle")
        _ = await proxy.apply(T.desired(ProxiedPort(name: used, endpoints: []), ProxiedPort(name: idle, endpoints: [])))
        #expect(await proxy.statistics(includingIdle: false).isEmpty)
        #expect(try await TestClient.readToEnd(port: try await T.listeningPort(proxy, used)) == "")
        #expect(try await eventually { try await T.statistics(proxy, used).connectFailures == 1 })
        let report = await proxy.statistics(includingIdle: false)
        #expect(report.keys.sorted() == [used])
        #expect(report[used] == (await proxy.statistics())[used])
        #expect(await proxy.statistics(includingIdle: true).keys.sorted() == [idle, used].sorted())
        await proxy.shutdown()
    }
}
