import KubeProxyCore
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A busy TCP service port listens on every event loop (`SO_REUSEPORT`) and keeps each
/// connection on the loop that accepted it (issue #9, scaling with cores).
@Suite("TCP listeners per event loop", .timeLimit(.minutes(1)))
struct TCPListenerLoopsTests {
    typealias T = UserspaceProxyTests

    static func proxy(
        group: any EventLoopGroup, descriptors: DescriptorBudget, relay: TCPRelayEngine = .nio
    ) -> UserspaceProxy {
        UserspaceProxy(
            group: group, bindAddress: IPAddress("127.0.0.1")!, portRange: nil,
            dialTimeouts: UserspaceProxy.defaultDialTimeouts, descriptors: descriptors, dialer: TCPBackendDialer(),
            tcpRelay: relay, logger: Logger(label: "test.dataplane")
        )
    }

    static func listener(_ proxy: UserspaceProxy, _ name: ServicePortName) async throws -> TCPListener {
        try #require(await proxy.active[name]?.listener as? TCPListener)
    }

    /// The listening sockets of `name`'s port, whichever engine serves it.
    static func socketCount(_ proxy: UserspaceProxy, _ name: ServicePortName) async throws -> Int {
        let listener = try #require(await proxy.active[name]?.listener)
        if let nio = listener as? TCPListener { return nio.socketCount }
        return try #require(listener as? RelayTCPListener).socketCount
    }

    /// How many event loops (NIO) or relay threads (epoll) hold at least one connection.
    static func threadsWithConnections(_ proxy: UserspaceProxy) async throws -> Int {
        if let relay = proxy.relay {
            return await relay.socketDescriptorsPerThread().filter { !$0.isEmpty }.count
        }
        let channels = try await proxy.tracker.channels().get()
        return Set(channels.map { ObjectIdentifier($0.eventLoop) }).count
    }

    @Test(arguments: TCPRelayEngine.allCases)
    func aPortThatSeesAConnectionListensOnEveryLoopAndConnectionsRunOnBothLoops(relay: TCPRelayEngine) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await TestBackend.greeter("a")
        let budget = DescriptorBudget(limit: 1 << 20)
        let proxy = Self.proxy(group: group, descriptors: budget, relay: relay)
        #expect(proxy.tcpRelayEngine == relay)
        let svc = T.service("loops")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        #expect(try await Self.socketCount(proxy, svc) == 1, "an idle port costs one socket")
        #expect(budget.inUse == 1)
        if relay == .nio {
            #expect(try await Self.listener(proxy, svc).channel.getOption(TCPListener.reusePort).get() != 0)
        }

        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await eventually { try await Self.socketCount(proxy, svc) == 2 })
        #expect(try await eventually { budget.inUse == 2 }, "both listening sockets are counted")

        // The kernel spreads connections over both sockets by their source port.
        var clients: [TestClient.Connection] = []
        for _ in 0..<32 { clients.append(try await TestClient.connect(port: port)) }
        #expect(try await eventually { await proxy.openChannelCount() == 64 })
        #expect(try await Self.threadsWithConnections(proxy) == 2, "connections run on both loops")
        for client in clients { try await client.channel.close() }

        _ = await proxy.apply([:])
        #expect(try await eventually { budget.inUse == 0 }, "every socket was given back")
        // Nothing listens any more: an exclusive bind (no SO_REUSEPORT) of the port succeeds.
        let exclusive = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: port).get()
        try await exclusive.close()
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }

    @Test(arguments: TCPRelayEngine.allCases)
    func oneLoopMeansOneSocketWithoutReusePort(relay: TCPRelayEngine) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let a = try await TestBackend.greeter("a")
        let proxy = Self.proxy(group: group, descriptors: DescriptorBudget(limit: 1 << 20), relay: relay)
        let svc = T.service("one-loop")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await TestClient.firstLine(port: port) == "a")
        if relay == .nio {
            #expect(try await Self.listener(proxy, svc).channel.getOption(TCPListener.reusePort).get() == 0)
        }
        #expect(try await Self.socketCount(proxy, svc) == 1)
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }

    @Test(arguments: TCPRelayEngine.allCases)
    func aSmallDescriptorBudgetGetsNoExtraSockets(relay: TCPRelayEngine) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await TestBackend.greeter("a")
        // Ceiling 200: half less 64 is 36, so one more socket would fit only below that.
        let budget = DescriptorBudget(limit: 200, reserve: 0)
        let proxy = Self.proxy(group: group, descriptors: budget, relay: relay)
        let names = (0..<40).map { T.service("small-\($0)") }
        _ = await proxy.apply(
            Dictionary(uniqueKeysWithValues: names.map { ($0, ProxiedPort(name: $0, endpoints: [a.endpoint])) }))
        let port = try await T.listeningPort(proxy, names[0])
        #expect(try await TestClient.firstLine(port: port) == "a")
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await Self.socketCount(proxy, names[0]) == 1)
        #expect(TCPListener.siblingLimit(ceiling: 200) == 36)
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }
}
