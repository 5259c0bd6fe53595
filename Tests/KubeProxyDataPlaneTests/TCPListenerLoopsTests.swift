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

    @Test func aPortThatSeesAConnectionListensOnEveryLoopAndConnectionsRunOnBothLoops() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await TestBackend.greeter("a")
        let budget = DescriptorBudget(limit: 1 << 20)
        let proxy = Self.proxy(group: group, descriptors: budget)
        let svc = T.service("loops")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let listener = try await Self.listener(proxy, svc)
        #expect(listener.socketCount == 1, "an idle port costs one socket")
        #expect(try await listener.channel.getOption(TCPListener.reusePort).get() != 0)

        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await eventually { listener.socketCount == 2 })
        #expect(try await eventually { budget.inUse == 2 }, "both listening sockets are counted")

        // The kernel spreads connections over both sockets by their source port.
        var clients: [TestClient.Connection] = []
        for _ in 0..<32 { clients.append(try await TestClient.connect(port: port)) }
        #expect(try await eventually { try await proxy.tracker.count().get() == 64 })
        let channels = try await proxy.tracker.channels().get()
        let loops = Set(channels.map { ObjectIdentifier($0.eventLoop) })
        #expect(loops.count == 2, "connections run on both loops")
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

    @Test func oneLoopMeansOneSocketWithoutReusePort() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let a = try await TestBackend.greeter("a")
        let proxy = Self.proxy(group: group, descriptors: DescriptorBudget(limit: 1 << 20))
        let svc = T.service("one-loop")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let listener = try await Self.listener(proxy, svc)
        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await listener.channel.getOption(TCPListener.reusePort).get() == 0)
        #expect(listener.socketCount == 1)
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }

    @Test func aSmallDescriptorBudgetGetsNoExtraSockets() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await TestBackend.greeter("a")
        // Ceiling 200: half less 64 is 36, so one more socket would fit only below that.
        let budget = DescriptorBudget(limit: 200, reserve: 0)
        let proxy = Self.proxy(group: group, descriptors: budget)
        let names = (0..<40).map { T.service("small-\($0)") }
        _ = await proxy.apply(
            Dictionary(uniqueKeysWithValues: names.map { ($0, ProxiedPort(name: $0, endpoints: [a.endpoint])) }))
        let port = try await T.listeningPort(proxy, names[0])
        #expect(try await TestClient.firstLine(port: port) == "a")
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await Self.listener(proxy, names[0]).socketCount == 1)
        #expect(TCPListener.siblingLimit(ceiling: 200) == 36)
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }

    // MARK: The epoll relay

    static func relayListener(_ proxy: UserspaceProxy, _ name: ServicePortName) async throws -> RelayTCPListener {
        try #require(await proxy.active[name]?.listener as? RelayTCPListener)
    }

    /// The epoll relay's threads follow the loop count: a port's first connection opens a socket
    /// on the other thread, the kernel spreads connections over both, and every socket is given
    /// back when the port goes.
    @Test func anEpollRelayedPortListensOnEveryThreadAfterItsFirstConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let a = try await TestBackend.greeter("a")
        let budget = DescriptorBudget(limit: 1 << 20)
        let proxy = Self.proxy(group: group, descriptors: budget, relay: .epoll)
        let relay = try #require(proxy.relay)
        #expect(relay.threadCount == 2)
        let svc = T.service("threads")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let listener = try await Self.relayListener(proxy, svc)
        #expect(listener.socketCount == 1, "an idle port costs one socket")
        #expect(budget.inUse == 1)

        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await eventually { listener.socketCount == 2 })
        #expect(try await eventually { budget.inUse == 2 }, "both listening sockets are counted")

        var clients: [TestClient.Connection] = []
        for _ in 0..<32 { clients.append(try await TestClient.connect(port: port)) }
        #expect(try await eventually { await proxy.openChannelCount() == 64 })
        let perThread = await relay.socketDescriptorsPerThread()
        #expect(perThread.allSatisfy { !$0.isEmpty }, "connections run on both threads: \(perThread.map(\.count))")
        for client in clients { try await client.channel.close() }

        _ = await proxy.apply([:])
        #expect(try await eventually { budget.inUse == 0 }, "every socket was given back")
        let exclusive = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: port).get()
        try await exclusive.close()
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }

    @Test func anEpollRelayWithOneThreadKeepsOneSocket() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let a = try await TestBackend.greeter("a")
        let proxy = Self.proxy(group: group, descriptors: DescriptorBudget(limit: 1 << 20), relay: .epoll)
        let svc = T.service("one-thread")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await TestClient.firstLine(port: port) == "a")
        #expect(try await Self.relayListener(proxy, svc).socketCount == 1)
        await proxy.shutdown()
        await a.close()
        try await group.shutdownGracefully()
    }
}
