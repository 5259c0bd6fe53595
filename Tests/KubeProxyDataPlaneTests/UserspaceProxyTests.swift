import Foundation
import KubeProxyCore
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// The relay through real loopback sockets: balancing, updates, dial failures, back-pressure.
@Suite("UserspaceProxy relay", .timeLimit(.minutes(1)))
struct UserspaceProxyTests {
    static func proxy(
        bind host: String = "127.0.0.1",
        range: PortRange? = nil,
        dialTimeouts: [Duration] = UserspaceProxy.defaultDialTimeouts,
        udpIdleTimeout: Duration = .seconds(30),
        udpSessionLimit: Int = UserspaceProxy.defaultUDPSessionLimit,
        relay: TCPRelayEngine = .nio,
        logger: Logger = Logger(label: "test.dataplane")
    ) -> UserspaceProxy {
        UserspaceProxy(
            group: MultiThreadedEventLoopGroup.singleton, bindAddress: IPAddress(host)!, portRange: range,
            dialTimeouts: dialTimeouts, udpIdleTimeout: udpIdleTimeout, udpSessionLimit: udpSessionLimit,
            tcpRelay: relay, logger: logger
        )
    }

    /// The statistics of `name`, which must have a listener.
    static func statistics(_ proxy: UserspaceProxy, _ name: ServicePortName) async throws -> ListenerStatistics {
        try #require(await proxy.statistics()[name])
    }

    static func service(_ name: String, _ transport: TransportProtocol = .tcp) -> ServicePortName {
        ServicePortName(namespace: "test", name: name, port: "p", protocol: transport)
    }

    static func desired(_ ports: ProxiedPort...) -> [ServicePortName: ProxiedPort] {
        Dictionary(uniqueKeysWithValues: ports.map { ($0.name, $0) })
    }

    static func listeningPort(_ proxy: UserspaceProxy, _ name: ServicePortName) async throws -> Int {
        try #require(await proxy.status()[name]?.port)
    }

    @Test("round robin over two backends", arguments: ["127.0.0.1", "::1"], TCPRelayEngine.allCases)
    func roundRobin(host: String, relay: TCPRelayEngine) async throws {
        let a = try await TestBackend.greeter("a", host: host)
        let b = try await TestBackend.greeter("b", host: host)
        let proxy = Self.proxy(bind: host, relay: relay)
        let svc = Self.service("rr")
        let changes = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [a.endpoint, b.endpoint])))
        #expect(changes.map(\.kind) == [.started])
        #expect(changes.first?.endpointCount == 2)
        let port = try await Self.listeningPort(proxy, svc)
        var counts: [String: Int] = [:]
        for _ in 0..<10 {
            let greeting = try await TestClient.firstLine(host: host, port: port)
            counts[greeting ?? "EOF", default: 0] += 1
        }
        #expect(counts == ["a": 5, "b": 5])
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    @Test(arguments: TCPRelayEngine.allCases) func clientIPAffinityKeepsTheClientOnOneBackend(relay: TCPRelayEngine) async throws {
        let a = try await TestBackend.greeter("a")
        let b = try await TestBackend.greeter("b")
        let proxy = Self.proxy(relay: relay)
        let svc = Self.service("sticky")
        let port = ProxiedPort(
            name: svc, sessionAffinity: .clientIP(timeoutSeconds: 60), endpoints: [a.endpoint, b.endpoint]
        )
        _ = await proxy.apply(Self.desired(port))
        let listening = try await Self.listeningPort(proxy, svc)
        var greetings: Set<String?> = []
        for _ in 0..<6 {
            greetings.insert(try await TestClient.firstLine(port: listening))
        }
        #expect(greetings.count == 1)
        #expect(greetings.isSubset(of: ["a", "b"]))
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    /// docs/userspace-behaviour.md#tcp-changes: endpoint changes and deletion leave an established connection alone; deletion
    /// closes the listener; the relay pair goes away once the client leaves.
    @Test(arguments: TCPRelayEngine.allCases) func establishedConnectionsOutliveUpdatesAndDeletion(relay: TCPRelayEngine) async throws {
        let a = try await TestBackend.greeter("a")
        let b = try await TestBackend.greeter("b")
        let proxy = Self.proxy(relay: relay)
        let svc = Self.service("update")
        _ = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await Self.listeningPort(proxy, svc)
        try await TestClient.withSession(port: port) { session in
            #expect(try await session.line() == "a")
            let updated = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [b.endpoint])))
            #expect(updated.map(\.kind) == [.updated])
            #expect(try await TestClient.firstLine(port: port) == "b")
            try await session.send("after update\n")
            #expect(try await session.line() == "after update")

            let stopped = await proxy.apply([:])
            #expect(stopped.map(\.kind) == [.stopped])
            #expect(stopped.first?.port == port)
            #expect(stopped.first?.endpointCount == 1, "the count the port had, for the 'stopped' log line")
            #expect(await TestClient.isRefused(port: port))
            try await session.send("after delete\n")
            #expect(try await session.line() == "after delete")
        }
        #expect(try await eventually { await proxy.openChannelCount() == 0 })
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    /// Accepted, then closed: the client sees EOF, never "connection refused".
    @Test(arguments: TCPRelayEngine.allCases) func noEndpointsAcceptsThenCloses(relay: TCPRelayEngine) async throws {
        let proxy = Self.proxy(relay: relay)
        let svc = Self.service("empty")
        let changes = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [])))
        #expect(changes.map(\.kind) == [.started])
        #expect(changes.first?.endpointCount == 0)
        let port = try await Self.listeningPort(proxy, svc)
        #expect(try await TestClient.readToEnd(port: port) == "")
        await proxy.shutdown()
    }

    /// docs/userspace-behaviour.md#tcp-dial-ladder: a refused dial is retried on the next endpoint, so every client is served.
    @Test(arguments: TCPRelayEngine.allCases) func refusedDialIsRetriedOnAnotherEndpoint(relay: TCPRelayEngine) async throws {
        let closed = try await TestBackend.closedPort()
        let live = try await TestBackend.greeter("live")
        let proxy = Self.proxy(relay: relay)
        let svc = Self.service("retry")
        _ = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [closed, live.endpoint])))
        let port = try await Self.listeningPort(proxy, svc)
        for _ in 0..<4 {
            #expect(try await TestClient.firstLine(port: port) == "live")
        }
        await proxy.shutdown()
        await live.close()
    }

    @Test(arguments: TCPRelayEngine.allCases) func allDialsFailingClosesTheClient(relay: TCPRelayEngine) async throws {
        let closed = try await TestBackend.closedPort()
        let proxy = Self.proxy(dialTimeouts: [.milliseconds(100), .milliseconds(100)], relay: relay)
        let svc = Self.service("dead")
        _ = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [closed])))
        let port = try await Self.listeningPort(proxy, svc)
        #expect(try await TestClient.readToEnd(port: port) == "")
        #expect(try await eventually { await proxy.openChannelCount() == 0 })
        await proxy.shutdown()
    }

    /// Unlike upstream, a dial that hangs does not hold up the next client.
    @Test(arguments: TCPRelayEngine.allCases) func blackHoledDialDoesNotBlockOtherClients(relay: TCPRelayEngine) async throws {
        let (hole, filler) = try await TestBackend.blackHole()
        let live = try await TestBackend.greeter("live")
        let proxy = Self.proxy(dialTimeouts: [.seconds(20)], relay: relay)
        let svc = Self.service("hole")
        _ = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [hole.endpoint])))
        let port = try await Self.listeningPort(proxy, svc)
        try await TestClient.withSession(port: port) { stuck in
            // The first client is accepted and its dial hangs.
            #expect(try await eventually { await proxy.openChannelCount() == 1 })
            _ = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [live.endpoint])))
            let (greeting, channels) = try await TestClient.withSession(port: port) { served in
                (try await served.line(), await proxy.openChannelCount())
            }
            #expect(greeting == "live")
            // The first client is still dialling: its channel plus the served pair.
            #expect(channels == 3)
            await proxy.shutdown()
            #expect(try await stuck.rest() == "")
        }
        try await filler.close()
        await hole.close()
        await live.close()
    }

    /// Relays a flood of `total` bytes from a backend to a client with a 64 KiB receive buffer
    /// that reads nothing until `beforeReading` (given the backend's progress) returns, then
    /// reads to the end: every byte must arrive intact, followed by the end of stream.
    static func floodReachesAClientThatReadsLate(
        relay: TCPRelayEngine, total: Int, beforeReading: (FloodProgress) async throws -> Void
    ) async throws {
        let progress = FloodProgress(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let flood = try await TestBackend.flood(total: total, progress: progress)
        let proxy = Self.proxy(relay: relay)
        let svc = Self.service("flood")
        _ = await proxy.apply(Self.desired(ProxiedPort(name: svc, endpoints: [flood.endpoint])))
        let port = try await Self.listeningPort(proxy, svc)
        let connection = try await TestClient.connect(port: port, receiveBuffer: 64 << 10)
        try await connection.executeThenClose { inbound, _ in
            try await beforeReading(progress)
            let (received, intact) = try await FloodPattern.readToEnd(inbound)
            #expect(received == total)
            #expect(intact)
        }
        await proxy.shutdown()
        await flood.close()
    }

    /// The most a backend can write to a client that reads nothing when every hop holds back:
    /// the backend's send buffer, the proxy's receive and send buffers at this host's autotuning
    /// maxima (`tcp_rmem`, `tcp_wmem`; the receive maximum is 32 MiB on some hosts), the client's
    /// receive buffer, and 1 MiB for what the relay itself holds.
    static func stalledWriteBound(clientReceiveBuffer: Int) -> Int {
        func maximum(_ sysctl: String, otherwise: Int) -> Int {
            let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/\(sysctl)", encoding: .utf8)
            return text?.split(whereSeparator: \.isWhitespace).last.flatMap { Int($0) } ?? otherwise
        }
        let receive = maximum("tcp_rmem", otherwise: 6 << 20)
        let send = maximum("tcp_wmem", otherwise: 4 << 20)
        return receive + 2 * send + clientReceiveBuffer + (1 << 20)
    }

    /// A client that reads nothing stalls a backend that writes as fast as it can; nothing is
    /// lost, and the backend's close arrives after the last byte.
    @Test(arguments: TCPRelayEngine.allCases) func slowReaderStallsFastWriter(relay: TCPRelayEngine) async throws {
        let total = 64 << 20
        let bound = Self.stalledWriteBound(clientReceiveBuffer: 64 << 10)
        try #require(bound < total, "this host's socket buffers could hold the whole flood")
        try await Self.floodReachesAClientThatReadsLate(relay: relay, total: total) { progress in
            try await Task.sleep(for: .seconds(1))
            let stalledAt = try await progress.bytes()
            #expect(stalledAt > 0)
            #expect(stalledAt < bound, "backend wrote \(stalledAt) bytes to a client that read nothing")
        }
    }

    /// The backend writes everything and closes while the relay is stalled by a client that
    /// reads nothing, so its end of stream arrives while the relay cannot read. Once the client
    /// reads, every byte and then the end must reach it: the end's readiness edge was reported
    /// only during the stall (a relay that forgot it waited forever after its last short read).
    @Test(arguments: TCPRelayEngine.allCases)
    func anEndThatArrivesDuringAStallIsDeliveredAfterTheBytes(relay: TCPRelayEngine) async throws {
        let total = (1 << 20) + 123
        try await Self.floodReachesAClientThatReadsLate(relay: relay, total: total) { progress in
            #expect(try await eventually { try await progress.bytes() == total }, "the backend wrote everything")
            // Its FIN reaches the relay while the relay still holds bytes the client has not read.
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Many TCP and UDP ports opened by one `apply`, as at a first sync: every one serves at once.
    /// The epoll engine opens its TCP listeners in one burst with the relay's wake-ups held until
    /// the last; a lost wake-up would leave sockets that accept into the backlog but never relay.
    @Test(arguments: TCPRelayEngine.allCases) func manyPortsOpenedInOneApplyAllServe(relay: TCPRelayEngine) async throws {
        let tcpBackend = try await TestBackend.greeter("t")
        let udpBackend = try await TestUDPBackend.echo("u")
        let proxy = Self.proxy(relay: relay)
        var desired: [ServicePortName: ProxiedPort] = [:]
        for index in 0..<150 {
            let tcp = Self.service("tcp-\(index)")
            desired[tcp] = ProxiedPort(name: tcp, endpoints: [tcpBackend.endpoint])
        }
        for index in 0..<10 {
            let udp = Self.service("udp-\(index)", .udp)
            desired[udp] = ProxiedPort(name: udp, endpoints: [udpBackend.endpoint])
        }
        let changes = await proxy.apply(desired)
        #expect(changes.count == 160)
        #expect(changes.allSatisfy { $0.kind == .started })
        for (name, _) in desired where name.protocol == .tcp {
            let port = try await Self.listeningPort(proxy, name)
            #expect(try await TestClient.firstLine(host: "127.0.0.1", port: port) == "t", "\(name)")
        }
        let client = try await TestUDPClient.make()
        for (name, _) in desired where name.protocol == .udp {
            let port = try await Self.listeningPort(proxy, name)
            #expect(try await client.request("ping", port: port) == "u:ping", "\(name)")
        }
        await client.close()
        await proxy.shutdown()
        await tcpBackend.close()
        await udpBackend.close()
    }
}
