import KubeProxyDataPlane
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A loopback TCP client for the data-plane tests, built on `NIOAsyncChannel`.
enum TestClient {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Connects to `host:port`; throws the connect error (e.g. `ECONNREFUSED`). A `receiveBuffer`
    /// fixes the socket's kernel receive buffer (no autotuning).
    static func connect(host: String = "127.0.0.1", port: Int, receiveBuffer: Int? = nil) async throws -> Connection {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        return
            try await bootstrap
            .connect(to: try SocketAddress(ipAddress: host, port: port)) { channel in
                channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
            }
    }

    /// Runs `body` with a session on a new connection, then closes it.
    static func withSession<Result>(
        host: String = "127.0.0.1",
        port: Int,
        _ body: (inout Session) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(host: host, port: port)
        return try await connection.executeThenClose { inbound, outbound in
            var session = Session(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&session)
        }
    }

    /// Connects, reads the first line (the greeting of a `TestBackend.greeter`), disconnects.
    static func firstLine(host: String = "127.0.0.1", port: Int) async throws -> String? {
        try await withSession(host: host, port: port) { try await $0.line() }
    }

    /// Connects and reads until EOF.
    static func readToEnd(host: String = "127.0.0.1", port: Int) async throws -> String {
        try await withSession(host: host, port: port) { try await $0.rest() }
    }

    /// A plain blocking socket connected to 127.0.0.1:`port`, for tests that need what NIO does
    /// not offer (closing with RST, silent close, half-close by hand). A `receiveTimeout` (s)
    /// makes a broken relay fail the test instead of hanging it.
    static func blockingSocket(port: Int, receiveTimeout: Int? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        if let receiveTimeout {
            var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        return fd
    }

    /// Whether connecting to `host:port` is refused (nothing listens).
    static func isRefused(host: String = "127.0.0.1", port: Int) async -> Bool {
        do {
            let connection = try await connect(host: host, port: port)
            try? await connection.channel.close()
            return false
        } catch let error as IOError {
            return error.errnoCode == ECONNREFUSED
        } catch {
            return false
        }
    }

    /// One open connection: line-oriented reads and writes.
    struct Session {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        private var pending = ""

        init(
            inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
            outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        ) {
            self.inbound = inbound
            self.outbound = outbound
        }

        mutating func send(_ text: String) async throws {
            try await outbound.write(ByteBuffer(string: text))
        }

        /// The next line without its newline; `nil` at EOF before a full line.
        mutating func line() async throws -> String? {
            while true {
                if let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    return line
                }
                guard let buffer = try await inbound.next() else { return nil }
                pending += String(buffer: buffer)
            }
        }

        /// Everything until EOF.
        mutating func rest() async throws -> String {
            while let buffer = try await inbound.next() {
                pending += String(buffer: buffer)
            }
            defer { pending = "" }
            return pending
        }
    }
}

/// Polls `condition` every 10 ms, at most `attempts` times; for effects that land on other
/// event loops shortly after the event that causes them.
func eventually(attempts: Int = 300, _ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<attempts {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return false
}
