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

/// Listening sockets made with system calls and handed to NIO (issue #9, opening 10k listeners):
/// the same options, backlog and errors as the bootstrap path they replace.
@Suite(.timeLimit(.minutes(1)))
struct ListeningSocketTests {
    typealias T = UserspaceProxyTests

    @Test func aTCPListenersSocketCarriesItsOptionsAndServes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = try await TestBackend.greeter("a")
        let proxy = TCPListenerLoopsTests.proxy(group: group, descriptors: DescriptorBudget(limit: 1 << 20))
        let svc = T.service("raw-socket")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [backend.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let channel = try await TCPListenerLoopsTests.listener(proxy, svc).channel
        #expect(channel.localAddress?.port == port)
        #expect(try await channel.getOption(.socketOption(.so_reuseaddr)).get() != 0)
        #expect(try await channel.getOption(.socketOption(.so_keepalive)).get() != 0)
        #expect(try await channel.getOption(TCPKeepalive.tcpOption(TCP_KEEPIDLE)).get() == 15)
        #expect(try await channel.getOption(TCPKeepalive.tcpOption(TCP_KEEPINTVL)).get() == 15)
        #expect(try await channel.getOption(TCPKeepalive.tcpOption(TCP_KEEPCNT)).get() == 9)
        #expect(try await TestClient.firstLine(port: port) == "a")
        await proxy.shutdown()
        await backend.close()
        try await group.shutdownGracefully()
    }

    @Test func theBacklogIsTheOneAskedForNotNIOsDefault() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let proxy = TCPListenerLoopsTests.proxy(group: group, descriptors: DescriptorBudget(limit: 1 << 20))
        let svc = T.service("backlog")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [])))
        let port = try await T.listeningPort(proxy, svc)
        // A listening socket's queue limit is its "Send-Q" in `ss -ltn`: the backlog it listens with.
        #expect(try Self.listenBacklog(port: port) == Int(TCPListener.backlog))
        await proxy.shutdown()
        try await group.shutdownGracefully()
    }

    @Test(arguments: [TransportProtocol.tcp, .udp])
    func aTakenPortThrowsTheBindErrorWithItsErrno(transport: TransportProtocol) throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        let first =
            transport == .tcp
            ? try ListeningSocket.tcp(address: address, options: [], backlog: 8)
            : try ListeningSocket.udp(address: address, options: [])
        defer { close(first) }
        let port = try Self.localPort(first)
        let taken = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let error = try #require(throws: IOError.self) {
            if transport == .tcp {
                _ = try ListeningSocket.tcp(address: taken, options: [ListeningSocket.reuseAddress], backlog: 8)
            } else {
                _ = try ListeningSocket.udp(address: taken, options: [])
            }
        }
        #expect(error.errnoCode == EADDRINUSE)
        #expect("\(error)".contains("bind(\(taken))"), "the error names the address: \(error)")
    }

    @Test func anUnknownOptionFailsNamingIt() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        let bogus = ListeningSocket.Option(level: SOL_SOCKET, name: -1, value: 1)
        let error = try #require(throws: IOError.self) {
            _ = try ListeningSocket.tcp(address: address, options: [bogus], backlog: 8)
        }
        #expect("\(error)".contains("setsockopt(\(SOL_SOCKET), -1)"))
    }

    /// The bound port of `fd`.
    static func localPort(_ fd: Int32) throws -> Int {
        var storage = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        try #require(result == 0)
        return Int(UInt16(bigEndian: storage.sin_port))
    }

    /// The backlog of the socket listening on `port`: the "Send-Q" column of `ss -Hltn`.
    static func listenBacklog(port: Int) throws -> Int {
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ss", "-Hltn", "sport = :\(port)"]
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        // State Recv-Q Send-Q Local Peer
        return try #require(fields.count >= 3 ? Int(fields[2]) : nil, "ss printed \(text)")
    }
}
