import KubeProxyCore
import KubeProxyTesting
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// UDP through real loopback sockets: sessions, balancing, expiry, limits, sizes (docs/userspace-behaviour.md#udp-sessions).
@Suite("UserspaceProxy UDP", .timeLimit(.minutes(1)))
struct UserspaceProxyUDPTests {
    typealias T = UserspaceProxyTests

    /// A started UDP service port over `backends`; returns the proxy port.
    static func start(
        _ proxy: UserspaceProxy,
        _ name: ServicePortName,
        _ backends: [EndpointAddress],
        affinity: SessionAffinity = .none
    ) async throws -> Int {
        let desired = ProxiedPort(name: name, sessionAffinity: affinity, endpoints: backends)
        let changes = await proxy.apply(T.desired(desired))
        #expect(changes.map(\.kind) == [.started])
        return try await T.listeningPort(proxy, name)
    }

    @Test("echo through the proxy, with exact statistics", arguments: ["127.0.0.1", "::1"])
    func echo(host: String) async throws {
        let a = try await TestUDPBackend.echo("a", host: host)
        let proxy = T.proxy(bind: host)
        let svc = T.service("dns", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint])
        let client = try await TestUDPClient.make(host: host)
        #expect(try await client.request("hello", port: port) == "a:hello")
        #expect(try await client.request("again", port: port) == "a:again")

        let stats = try await T.statistics(proxy, svc)
        #expect(stats.bytesClientToBackend == 10)
        #expect(stats.bytesBackendToClient == 14)
        #expect(stats.udpSessions == 1)
        #expect(stats.udpSessionsTotal == 1)
        #expect(stats.udpDroppedDatagrams == 0)
        #expect(stats.totalConnections == 0)
        await client.close()
        await proxy.shutdown()
        await a.close()
    }

    /// New clients take turns; every client stays on its endpoint for its session's life.
    @Test func clientsAreBalancedRoundRobinAndSessionsStick() async throws {
        let a = try await TestUDPBackend.echo("a")
        let b = try await TestUDPBackend.echo("b")
        let proxy = T.proxy()
        let svc = T.service("rr", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint, b.endpoint])
        let first = try await TestUDPClient.make()
        let second = try await TestUDPClient.make()
        let one = try await first.request("x", port: port)
        let two = try await second.request("x", port: port)
        #expect(Set([one, two]) == ["a:x", "b:x"])
        for _ in 0..<4 {
            #expect(try await first.request("x", port: port) == one)
            #expect(try await second.request("x", port: port) == two)
        }
        #expect(try await T.statistics(proxy, svc).udpSessionsTotal == 2)
        for client in [first, second] { await client.close() }
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    /// After the idle timeout the session's socket is closed; the client's next datagram opens
    /// a new session, which takes the next endpoint in turn.
    @Test func idleSessionsExpire() async throws {
        let a = try await TestUDPBackend.echo("a")
        let b = try await TestUDPBackend.echo("b")
        // Long enough that a loaded machine reads the statistics before the session expires.
        let proxy = T.proxy(udpIdleTimeout: .seconds(1))
        let svc = T.service("idle", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint, b.endpoint])
        let client = try await TestUDPClient.make()
        let before = try #require(try await client.request("x", port: port))
        let sessionSocket = try #require(before == "a:x" ? a.lastPeer : b.lastPeer)
        let sessionInode = try #require(udpSocketInode(sessionSocket))
        #expect(try await T.statistics(proxy, svc).udpSessions == 1)

        #expect(try await eventually { try await T.statistics(proxy, svc).udpSessions == 0 })
        #expect(try await eventually { !udpSocketExists(inode: sessionInode) })
        let after = try await client.request("x", port: port)
        #expect(after != before)
        #expect(Set([before, after]) == ["a:x", "b:x"])
        #expect(try await T.statistics(proxy, svc).udpSessionsTotal == 2)
        await client.close()
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    /// Upstream cut datagrams at 4096 bytes; the largest IPv4 payload passes intact.
    @Test(arguments: [60 << 10, 65_507])
    func largeDatagramsPassIntact(size: Int) async throws {
        let mirror = try await TestUDPBackend.mirror()
        let proxy = T.proxy()
        let svc = T.service("big", .udp)
        let port = try await Self.start(proxy, svc, [mirror.endpoint])
        let client = try await TestUDPClient.make()
        let payload = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try await client.send(payload, to: port)
        let reply = try await client.receive()
        #expect(reply?.readableBytes == size)
        #expect(reply == payload)
        await client.close()
        await proxy.shutdown()
        await mirror.close()
    }

    /// A full table drops new clients' datagrams with a single warning, while existing sessions
    /// keep working.
    @Test func fullSessionTableDropsNewClientsAndWarnsOnce() async throws {
        let a = try await TestUDPBackend.echo("a")
        let (logger, logs) = RecordingLogHandler.logger()
        let proxy = T.proxy(udpSessionLimit: 1, logger: logger)
        let svc = T.service("full", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint])
        let admitted = try await TestUDPClient.make()
        let refused = try await TestUDPClient.make()
        #expect(try await admitted.request("in", port: port) == "a:in")
        for _ in 0..<3 {
            try await refused.send(ByteBuffer(string: "out"), to: port)
        }
        #expect(try await eventually { try await T.statistics(proxy, svc).udpDroppedDatagrams == 3 })
        #expect(try await refused.receive(timeout: .milliseconds(100)) == nil)
        #expect(try await admitted.request("still", port: port) == "a:still")

        let warnings = logs.messages(at: .warning)
        let expected = "UDP session table of test/full:p is full (1 sessions); dropping datagrams of new clients"
        #expect(warnings == [expected])
        for client in [admitted, refused] { await client.close() }
        await proxy.shutdown()
        await a.close()
    }

    /// Removing the service port closes its socket and every session's socket.
    @Test func removingThePortClosesItsSessions() async throws {
        let a = try await TestUDPBackend.echo("a")
        let proxy = T.proxy()
        let svc = T.service("gone", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint])
        let client = try await TestUDPClient.make()
        #expect(try await client.request("x", port: port) == "a:x")
        let sessionSocket = try #require(a.lastPeer)
        let sessionInode = try #require(udpSocketInode(sessionSocket), "the session's socket is open")

        #expect(await proxy.apply([:]).map(\.kind) == [.stopped])
        #expect(try await eventually { !udpSocketExists(inode: sessionInode) })
        #expect(await proxy.statistics()[svc] == nil)
        #expect(try await client.request("x", port: port, timeout: .milliseconds(100)) == nil)
        await client.close()
        await proxy.shutdown()
        await a.close()
    }

    /// Endpoint changes apply to new sessions; a session to a removed endpoint goes on until idle.
    @Test func endpointChangesAffectNewSessionsOnly() async throws {
        let a = try await TestUDPBackend.echo("a")
        let b = try await TestUDPBackend.echo("b")
        let proxy = T.proxy()
        let svc = T.service("move", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint])
        let old = try await TestUDPClient.make()
        #expect(try await old.request("x", port: port) == "a:x")
        #expect(await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [b.endpoint]))).map(\.kind) == [.updated])
        let new = try await TestUDPClient.make()
        #expect(try await new.request("x", port: port) == "b:x")
        #expect(try await old.request("x", port: port) == "a:x")
        for client in [old, new] { await client.close() }
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    /// ClientIP affinity holds for new sessions: a client's new source ports land on its endpoint.
    @Test func clientIPAffinityAppliesToNewSessions() async throws {
        let a = try await TestUDPBackend.echo("a")
        let b = try await TestUDPBackend.echo("b")
        let proxy = T.proxy()
        let svc = T.service("sticky", .udp)
        let port = try await Self.start(proxy, svc, [a.endpoint, b.endpoint], affinity: .clientIP(timeoutSeconds: 60))
        var replies: Set<String?> = []
        for _ in 0..<4 {
            let client = try await TestUDPClient.make()
            replies.insert(try await client.request("x", port: port))
            await client.close()
        }
        #expect(replies.count == 1)
        #expect(try await T.statistics(proxy, svc).udpSessionsTotal == 4)
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    @Test func noEndpointsDropsDatagrams() async throws {
        let proxy = T.proxy()
        let svc = T.service("empty", .udp)
        let port = try await Self.start(proxy, svc, [])
        let client = try await TestUDPClient.make()
        try await client.send(ByteBuffer(string: "1"), to: port)
        try await client.send(ByteBuffer(string: "2"), to: port)
        #expect(
            try await eventually {
                let stats = try await T.statistics(proxy, svc)
                return stats.udpDroppedDatagrams == 2 && stats.connectFailures >= 1
            })
        let stats = try await T.statistics(proxy, svc)
        #expect(stats.udpSessions == 0)
        #expect(stats.udpSessionsTotal == 0)
        #expect(try await client.receive(timeout: .milliseconds(50)) == nil)
        await client.close()
        await proxy.shutdown()
    }
}
