import KubeProxyCore
import KubeProxyTesting
import NIOCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// Restart without an outage: a listener takes the port a previous run used when it can.
@Suite("UserspaceProxy preferred ports", .timeLimit(.minutes(1)))
struct UserspaceProxyPreferredPortTests {
    typealias T = UserspaceProxyTests
    typealias L = UserspaceProxyListenerTests

    /// A port that was free on 127.0.0.1 a moment ago (below the ephemeral range).
    static func freePort() async throws -> Int {
        try await L.freeRange().first
    }

    @Test(arguments: [TransportProtocol.tcp, .udp])
    func preferredPortIsHonouredWithoutARange(transport: TransportProtocol) async throws {
        let preferred = try await Self.freePort()
        let proxy = T.proxy()
        let svc = T.service("again", transport)
        let changes = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [], preferredPort: preferred)))
        #expect(changes.map(\.kind) == [.started])
        #expect(changes.first?.port == preferred)
        #expect(await proxy.status()[svc] == .listening(port: preferred))
        await proxy.shutdown()
    }

    @Test func takenPreferredPortFallsBackToTheAllocatorAndSaysSo() async throws {
        let preferred = try await Self.freePort()
        let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: preferred)).get()
        let (logger, logs) = RecordingLogHandler.logger()
        let proxy = T.proxy(logger: logger)
        let svc = T.service("taken")
        let changes = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [], preferredPort: preferred)))
        #expect(changes.map(\.kind) == [.started])
        let port = try #require(changes.first?.port)
        #expect(port != preferred)
        #expect(logs.messages(at: .info) == ["preferred proxy port not used; allocating another"])
        try await squatter.close()
        await proxy.shutdown()
    }

    /// Inside the range the preferred port is reserved, so the other listeners get the rest.
    @Test func preferredPortInsideTheRangeIsReserved() async throws {
        let range = try await L.freeRange()
        let proxy = T.proxy(range: range)
        let middle = range.first + 1
        var desired = L.ports(["a", "b", "c"])
        desired[T.service("b")]?.preferredPort = middle
        let changes = await proxy.apply(desired)
        #expect(changes.map(\.kind) == [.started, .started, .started])
        #expect(await proxy.status()[T.service("b")] == .listening(port: middle))
        #expect(Set(await proxy.status().values.compactMap(\.port)) == Set(range.first...range.last))
        await proxy.shutdown()
    }

    @Test func preferredPortOutsideTheRangeIsNotUsed() async throws {
        let range = try await L.freeRange()
        let outside = try await Self.freePort()
        let proxy = T.proxy(range: range)
        let svc = T.service("out")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [], preferredPort: outside)))
        let port = try await T.listeningPort(proxy, svc)
        #expect(range.contains(port))
        await proxy.shutdown()
    }

    /// Only the first open looks at the preferred port; a later change never moves a listener.
    @Test func changingThePreferredPortLaterMovesNothing() async throws {
        let proxy = T.proxy()
        let svc = T.service("stay")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [])))
        let port = try await T.listeningPort(proxy, svc)
        let other = try await Self.freePort()
        #expect(await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [], preferredPort: other))).isEmpty)
        #expect(try await T.listeningPort(proxy, svc) == port)
        await proxy.shutdown()
    }
}
