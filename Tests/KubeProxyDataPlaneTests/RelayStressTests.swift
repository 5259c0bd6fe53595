import KubeProxyCore
import Logging
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Clients that misbehave in every way a relay must survive, many at once: resets while the
/// backend is being dialled and while relaying, half-closes, abandoned connections. Afterwards
/// every socket and descriptor must be given back and the port must still serve.
@Suite("Relay under misbehaving clients", .timeLimit(.minutes(1)))
struct RelayStressTests {
    typealias T = UserspaceProxyTests

    /// What one client does.
    enum Behaviour: CaseIterable {
        /// Greeting, one echoed line, normal close.
        case polite
        /// Reset at once, usually while the backend is still being dialled.
        case resetAtOnce
        /// Sends a line, shuts its sending side down, reads to the end.
        case halfClose
        /// Reads the greeting, then resets.
        case resetAfterGreeting
        /// Sends a line and closes without reading anything.
        case writeAndLeave
    }

    @Test(arguments: TCPRelayEngine.allCases)
    func everySocketIsGivenBackAfterHostileClients(relay: TCPRelayEngine) async throws {
        try await Self.hostileRounds(relay: relay, batchSends: true)
    }

    /// The epoll relay with every send and close made directly: the path where `io_uring` is
    /// unavailable (the test above batches them where it is).
    @Test func everySocketIsGivenBackAfterHostileClientsWithDirectSends() async throws {
        try await Self.hostileRounds(relay: .epoll, batchSends: false)
    }

    static func hostileRounds(relay: TCPRelayEngine, batchSends: Bool) async throws {
        let a = try await TestBackend.greeter("a")
        let budget = DescriptorBudget(limit: 1 << 20, reserve: 0)
        let proxy = UserspaceProxy(
            group: MultiThreadedEventLoopGroup.singleton, bindAddress: IPAddress("127.0.0.1")!, portRange: nil,
            dialTimeouts: UserspaceProxy.defaultDialTimeouts, descriptors: budget, dialer: TCPBackendDialer(),
            tcpRelay: relay, batchRelaySends: batchSends, logger: Logger(label: "test.dataplane"))
        let svc = T.service("stress")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let listeners = budget.inUse

        for round in 0..<4 {
            // 50 clients open at once, each with its behaviour, then all finish.
            var sockets: [(fd: Int32, behaviour: Behaviour)] = []
            for index in 0..<50 {
                let behaviour = Behaviour.allCases[(index + round) % Behaviour.allCases.count]
                sockets.append((try TestClient.blockingSocket(port: port, receiveTimeout: 5), behaviour))
            }
            for (fd, behaviour) in sockets {
                Self.act(behaviour, fd)
            }
        }

        #expect(try await eventually(attempts: 400) { await proxy.openChannelCount() == 0 })
        #expect(try await eventually { try await T.statistics(proxy, svc).activeConnections == 0 })
        #expect(try await eventually { budget.inUse <= listeners + 1 }, "only listening sockets are held")
        #expect(try await TestClient.firstLine(port: port) == "a", "the port still serves")
        await proxy.shutdown()
        // NIO channels give their descriptors back as their close completes, which can be just
        // after `shutdown` returns.
        #expect(try await eventually { budget.inUse == 0 })
        await a.close()
    }

    static func act(_ behaviour: Behaviour, _ fd: Int32) {
        switch behaviour {
        case .polite:
            #expect(readLine(fd) == "a")
            send(fd, "ping\n")
            #expect(readLine(fd) == "ping")
            close(fd)
        case .resetAtOnce:
            reset(fd)
        case .halfClose:
            send(fd, "bye\n")
            shutdown(fd, Int32(SHUT_WR))
            // Whatever arrives (the greeting, maybe the echo) ends with EOF, not a timeout.
            var buffer = [UInt8](repeating: 0, count: 256)
            var received = 0
            repeat { received = recv(fd, &buffer, buffer.count, 0) } while received > 0
            #expect(received == 0, "the relay closed the half-closed client (not a timeout or error)")
            close(fd)
        case .resetAfterGreeting:
            #expect(readLine(fd) == "a")
            reset(fd)
        case .writeAndLeave:
            send(fd, "unread\n")
            close(fd)
        }
    }

    static func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    /// Closes with RST instead of FIN (`SO_LINGER` with a zero timeout).
    static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    /// One line without its newline, `nil` at EOF or timeout.
    static func readLine(_ fd: Int32) -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }
}
