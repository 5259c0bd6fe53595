import Foundation
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

/// Keepalive, descriptor budget, accept back-off and UDP receive buffers (issue #8, items 4–6).
@Suite("Data plane resources", .timeLimit(.minutes(1)))
struct DataPlaneResourceTests {
    typealias T = UserspaceProxyTests

    /// A proxy on loopback with the given keepalive (both sides) and descriptor budget.
    static func proxy(
        keepalive: TCPKeepalive = .upstream,
        descriptors: DescriptorBudget = DescriptorBudget(limit: 1 << 20),
        udpIdleTimeout: Duration = .seconds(30),
        relay: TCPRelayEngine = .nio
    ) -> UserspaceProxy {
        UserspaceProxy(
            group: MultiThreadedEventLoopGroup.singleton, bindAddress: IPAddress("127.0.0.1")!, portRange: nil,
            dialTimeouts: UserspaceProxy.defaultDialTimeouts, udpIdleTimeout: udpIdleTimeout,
            keepalive: keepalive, descriptors: descriptors, dialer: TCPBackendDialer(keepalive: keepalive),
            tcpRelay: relay, logger: Logger(label: "test.dataplane")
        )
    }

    /// Reads a socket option from the real socket behind `channel`.
    static func option(
        _ channel: any Channel,
        _ option: ChannelOptions.Types.SocketOption
    ) async throws -> SocketOptionValue {
        try await channel.getOption(option).get()
    }

    // MARK: Keepalive

    @Test func bothSocketsOfARelayedConnectionHaveUpstreamKeepalive() async throws {
        let a = try await TestBackend.greeter("a")
        let proxy = Self.proxy(relay: .nio)
        let svc = T.service("keepalive")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        try await TestClient.withSession(port: port) { session in
            #expect(try await session.line() == "a")
            let channels = try await proxy.tracker.channels().get()
            #expect(channels.count == 2, "client side and backend side")
            for channel in channels {
                #expect(try await Self.option(channel, .socketOption(.so_keepalive)) != 0)
                #expect(try await Self.option(channel, TCPKeepalive.tcpOption(TCP_KEEPIDLE)) == 15)
                #expect(try await Self.option(channel, TCPKeepalive.tcpOption(TCP_KEEPINTVL)) == 15)
                #expect(try await Self.option(channel, TCPKeepalive.tcpOption(TCP_KEEPCNT)) == 9)
            }
        }
        await proxy.shutdown()
        await a.close()
    }

    /// A client that vanishes without FIN or RST: `TCP_REPAIR` lets a socket close silently
    /// (root only). The proxy's next keepalive probe meets no socket, the kernel answers RST, and
    /// the relay closes; without keepalive nothing would ever be sent and the pair would stay.
    /// The epoll relay's sockets, read with `getsockopt` on their descriptors: the accepted one
    /// inherits the listening socket's options, the dialled one sets its own.
    @Test func bothSocketsOfAnEpollRelayedConnectionHaveUpstreamKeepaliveAndNoDelay() async throws {
        let a = try await TestBackend.greeter("a")
        let proxy = Self.proxy(relay: .epoll)
        let svc = T.service("keepalive")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        try await TestClient.withSession(port: port) { session in
            #expect(try await session.line() == "a")
            let relay = try #require(proxy.relay)
            let descriptors = await relay.socketDescriptorsPerThread().flatMap { $0 }
            #expect(descriptors.count == 2, "client side and backend side")
            let tcp = Int32(IPPROTO_TCP)
            for fd in descriptors {
                #expect(Self.intOption(fd, SOL_SOCKET, SO_KEEPALIVE) == 1)
                #expect(Self.intOption(fd, tcp, TCP_KEEPIDLE) == 15)
                #expect(Self.intOption(fd, tcp, TCP_KEEPINTVL) == 15)
                #expect(Self.intOption(fd, tcp, TCP_KEEPCNT) == 9)
                #expect(Self.intOption(fd, tcp, TCP_NODELAY) == 1)
            }
        }
        await proxy.shutdown()
        await a.close()
    }

    /// `getsockopt` of an `int` option, `nil` when it fails.
    static func intOption(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, level, name, &value, &length) == 0 else { return nil }
        return value
    }

    @Test(arguments: TCPRelayEngine.allCases)
    func aVanishedClientIsFoundByKeepaliveAndItsConnectionCloses(relay: TCPRelayEngine) async throws {
        guard getuid() == 0 else {
            print("skipped: closing a socket silently (TCP_REPAIR) needs root")
            return
        }
        let a = try await TestBackend.greeter("a")
        let fast = TCPKeepalive(idleSeconds: 1, intervalSeconds: 1, probeCount: 1)
        let proxy = Self.proxy(keepalive: fast, relay: relay)
        let svc = T.service("vanish")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)

        let fd = try TestClient.blockingSocket(port: port)
        // Read the greeting: nothing is left in flight that a retransmission could turn into a
        // reset, so only keepalive can find the vanished client.
        var greeting = [UInt8](repeating: 0, count: 16)
        #expect(recv(fd, &greeting, greeting.count, 0) == 2)
        #expect(try await eventually { await proxy.openChannelCount() == 2 }, "relay established")
        #expect(try await T.statistics(proxy, svc).activeConnections == 1)

        var repair: Int32 = 1
        let tcpRepair: Int32 = 19  // TCP_REPAIR (linux/tcp.h)
        try #require(setsockopt(fd, Int32(IPPROTO_TCP), tcpRepair, &repair, socklen_t(MemoryLayout<Int32>.size)) == 0)
        close(fd)

        #expect(try await eventually(attempts: 800) { await proxy.openChannelCount() == 0 })
        #expect(try await T.statistics(proxy, svc).activeConnections == 0)
        await proxy.shutdown()
        await a.close()
    }

    // MARK: Descriptor budget

    @Test func budgetCountsUpToItsCeilingOnly() {
        let budget = DescriptorBudget(limit: 10, reserve: 4)
        #expect(budget.ceiling == 6)
        #expect(budget.tryAcquire(4))
        #expect(!budget.tryAcquire(3))
        #expect(budget.inUse == 4)
        #expect(budget.tryAcquire(2))
        budget.release(2)
        budget.acquire(5)
        #expect(budget.inUse == 9)
        #expect(!budget.tryAcquire(1))
        budget.release(9)
        #expect(budget.inUse == 0)
    }

    /// Optional extras (a busy port's sibling listeners) stop at a lower bound, never above the
    /// ceiling.
    @Test func extrasStopAtTheirOwnLimit() {
        let budget = DescriptorBudget(limit: 10, reserve: 4)
        #expect(budget.tryAcquire(2, within: 3))
        #expect(!budget.tryAcquire(2, within: 3))
        #expect(budget.tryAcquire(1, within: 3))
        #expect(!budget.tryAcquire(4, within: 100), "the ceiling (6) still bounds")
        #expect(budget.tryAcquire(3, within: 100))
        #expect(budget.inUse == 6)
    }

    @Test(arguments: [(256, 128), (512, 192), (1024, 192), (4096, 512), (20_000, 1024), (1 << 20, 1024)])
    func defaultReserve(limit: Int, reserve: Int) {
        #expect(DescriptorBudget.defaultReserve(limit: limit) == reserve)
    }

    @Test func processLimitMatchesGetrlimit() {
        var limits = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0)
        #expect(DescriptorBudget.processLimit() == Int(limits.rlim_cur))
    }

    /// The descriptor table grows to the highest number a batch of opens will reach in one step
    /// (`FDSize` in /proc/self/status), and the scratch descriptor that grew it is closed again.
    @Test func preparingTheTableGrowsItOnceAndLeavesNothingOpen() throws {
        func tableSize() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("FDSize:") })
            return try #require(Int(line.split(separator: "\t").last ?? ""))
        }
        let before = try tableSize()
        let limit = DescriptorBudget.processLimit() ?? 1 << 20
        let wanted = before * 4
        guard limit > wanted else {
            print("skipped: the descriptor limit (\(limit)) leaves no room to grow the table (\(before)) fourfold")
            return
        }
        let budget = DescriptorBudget(limit: limit, reserve: 0)
        budget.prepareTable(forMore: wanted)
        #expect(try tableSize() >= wanted)
        #expect(fcntl(Int32(wanted - 1), F_GETFD) == -1 && errno == EBADF, "the scratch descriptor was left open")
        #expect(budget.inUse == 0)
    }

    @Test func warningsAreThrottled() {
        let budget = DescriptorBudget(limit: 10)
        #expect(budget.shouldWarn(nowNanoseconds: 1_000))
        #expect(!budget.shouldWarn(nowNanoseconds: 2_000))
        #expect(budget.shouldWarn(nowNanoseconds: 1_000 + 10_000_000_000))
    }

    /// Ceiling 5: the listener and two connections. A third client is closed at once, and
    /// served again as soon as a connection ends.
    @Test(arguments: TCPRelayEngine.allCases)
    func clientsBeyondTheBudgetAreClosedAtOnce(relay: TCPRelayEngine) async throws {
        let a = try await TestBackend.greeter("a")
        let budget = DescriptorBudget(limit: 5, reserve: 0)
        let proxy = Self.proxy(descriptors: budget, relay: relay)
        let svc = T.service("budget")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        #expect(budget.inUse == 1)

        let first = try await TestClient.connect(port: port)
        let second = try await TestClient.connect(port: port)
        #expect(try await eventually { budget.inUse == 5 })
        #expect(try await TestClient.readToEnd(port: port) == "", "refused: EOF without a greeting")
        #expect(try await T.statistics(proxy, svc).connectFailures == 1)

        try await first.channel.close()
        #expect(try await eventually { budget.inUse == 3 })
        #expect(try await TestClient.firstLine(port: port) == "a")
        try await second.channel.close()
        #expect(try await eventually { budget.inUse == 1 })
        await proxy.shutdown()
        #expect(budget.inUse == 0)
        await a.close()
    }

    @Test func heldPortClaimsAreCounted() async throws {
        let budget = DescriptorBudget(limit: 100, reserve: 0)
        let claims = PortClaims(
            group: MultiThreadedEventLoopGroup.singleton, family: .ipv4, descriptors: budget,
            logger: Logger(label: "test.claims")
        )
        let svc = T.service("claims")
        let probe = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(probe.localAddress?.port)
        try await probe.close()
        let claim = PortClaim(address: IPAddress("127.0.0.1")!, port: port, protocol: .udp, owner: svc)
        let results = await claims.updateClaims([claim])
        #expect(results.map(\.outcome) == [.claimed])
        #expect(budget.inUse == 1)
        _ = await claims.updateClaims([])
        #expect(try await eventually { budget.inUse == 0 })
        await claims.releaseAll()
    }

    /// Ceiling 2: the listener and one session; a second client's datagram is dropped.
    @Test func udpSessionsBeyondTheBudgetAreDropped() async throws {
        let a = try await TestUDPBackend.echo("a")
        let budget = DescriptorBudget(limit: 2, reserve: 0)
        let proxy = Self.proxy(descriptors: budget)
        let svc = T.service("udp-budget", .udp)
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let one = try await TestUDPClient.make()
        let two = try await TestUDPClient.make()
        #expect(try await one.request("x", port: port) == "a:x")
        #expect(try await two.request("y", port: port, timeout: .milliseconds(300)) == nil)
        let stats = try await T.statistics(proxy, svc)
        #expect(stats.udpSessions == 1)
        #expect(stats.udpDroppedDatagrams == 1)
        await proxy.shutdown()
        #expect(try await eventually { budget.inUse == 0 })
        await one.close()
        await two.close()
        await a.close()
    }

    // MARK: Accept back-off

    @Test func acceptBacksOffOnResourceErrorsOnly() {
        let emfile = IOError(errnoCode: EMFILE, reason: "accept")
        #expect(AcceptBackoff.delay(after: emfile) == AcceptBackoff.delay)
        #expect(AcceptBackoff.delay(after: IOError(errnoCode: ENFILE, reason: "accept")) == AcceptBackoff.delay)
        #expect(AcceptBackoff.delay(after: IOError(errnoCode: ECONNABORTED, reason: "accept")) == nil)
    }

    @Test func tcpListenersHaveTheBackoffHandler() async throws {
        let a = try await TestBackend.greeter("a")
        let proxy = Self.proxy()
        let svc = T.service("backoff")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let listener = try #require(await proxy.active[svc]?.listener as? TCPListener)
        try await listener.channel.pipeline.containsHandler(type: AcceptBackoffHandler.self).get()
        await proxy.shutdown()
        await a.close()
    }

    // MARK: UDP receive buffer

    @Test func receiveBuffersOfOneThreadShareOneRegion() {
        let allocator = UDPReceiveBuffer.Allocator()
        let first = allocator.buffer(allocator: ByteBufferAllocator())
        let second = allocator.buffer(allocator: ByteBufferAllocator())
        #expect(first.capacity == UDPReceiveBuffer.size)
        let base = { (buffer: ByteBuffer) in buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(base(first) == base(second))
        #expect(UDPReceiveBuffer.isRegion(UDPReceiveBuffer.threadRegion()))
    }

    @Test(arguments: [1, 100, 1500, 65_507])
    func copiesAreSizedToTheDatagram(size: Int) {
        var received = UDPReceiveBuffer.Allocator().buffer(allocator: ByteBufferAllocator())
        received.writeRepeatingByte(7, count: size)
        let copy = UDPReceiveBuffer.copyOut(received, using: ByteBufferAllocator())
        #expect(copy.readableBytes == size)
        #expect(copy.capacity < 2 * size)
        // The next read overwrites the region; the copy keeps its bytes.
        received.clear()
        received.writeRepeatingByte(9, count: size)
        #expect(copy.readableBytesView.allSatisfy { $0 == 7 })
    }

    /// NIO's pool writes into a new receive buffer while another reference exists; the
    /// copy-on-write must land in the region again, or every socket keeps 64 KiB of heap.
    @Test func aCopiedReceiveBufferStaysInTheRegion() {
        var stored = UDPReceiveBuffer.Allocator().buffer(allocator: ByteBufferAllocator())
        let second = stored
        stored.writeInteger(UInt8(1))
        #expect(second.readableBytes == 0)
        let base = stored.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(base == UInt(bitPattern: UDPReceiveBuffer.threadRegion()))
    }

    @Test func aGrownReceiveBufferGetsHeapMemoryAndLeavesTheRegionAlone() {
        var received = UDPReceiveBuffer.Allocator().buffer(allocator: ByteBufferAllocator())
        received.writeRepeatingByte(1, count: UDPReceiveBuffer.size + 1)
        let grown = received.withVeryUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
        #expect(!UDPReceiveBuffer.isRegion(grown))
        let next = UDPReceiveBuffer.Allocator().buffer(allocator: ByteBufferAllocator())
        let nextBase = next.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(nextBase == UInt(bitPattern: UDPReceiveBuffer.threadRegion()))
    }
}
