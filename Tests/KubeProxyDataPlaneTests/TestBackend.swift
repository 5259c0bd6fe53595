import KubeProxyCore
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Sockets behind `TestBackend.closedPort`: bound, never listening, open until the process ends.
private let reservedClosedPorts = Mutex<[Int32]>([])

/// Tiny NIO servers on loopback that play the endpoints of the data-plane tests.
struct TestBackend: Sendable {
    let channel: any Channel
    let host: IPAddress
    let port: Int

    /// What the proxy should dial.
    var endpoint: EndpointAddress { EndpointAddress(ip: host, port: port) }

    /// Greets each connection with `"<name>\n"`, then echoes whatever it receives.
    static func greeter(_ name: String, host: String = "127.0.0.1") async throws -> TestBackend {
        try await start(host: host, bootstrap: ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)) { child in
            try child.pipeline.syncOperations.addHandler(GreetEchoHandler(greeting: name + "\n"))
        }
    }

    /// Writes `message` to each connection and closes it at once: the bytes and the end
    /// reach the relay together, as a response does from a server that closes after answering.
    static func sayAndClose(_ message: String) async throws -> TestBackend {
        try await start(host: "127.0.0.1", bootstrap: ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)) {
            child in
            try child.pipeline.syncOperations.addHandler(SayAndCloseHandler(message: message))
        }
    }

    /// Sends `total` bytes of `FloodPattern` as fast as each connection takes them, then closes.
    static func flood(total: Int, progress: FloodProgress) async throws -> TestBackend {
        let loop = progress.eventLoop
        // A small, fixed send buffer keeps the kernel's share of "in flight" out of the measurement.
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .childChannelOption(.socketOption(.so_sndbuf), value: 64 << 10)
        return try await start(host: "127.0.0.1", bootstrap: bootstrap) { child in
            try child.pipeline.syncOperations.addHandler(FloodHandler(total: total, progress: progress))
        }
    }

    /// A listener that never accepts, with a backlog of 0 already filled by `filler`: the kernel
    /// drops further SYNs, so dials to it hang until their timeout (a black hole on loopback).
    static func blackHole() async throws -> (backend: TestBackend, filler: any Channel) {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 0)
            .serverChannelOption(.autoRead, value: false)
        let backend = try await start(host: "127.0.0.1", bootstrap: bootstrap) { _ in }
        let filler = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: backend.port))
            .get()
        return (backend, filler)
    }

    /// A port on `host` where nothing listens: dials are refused. The port stays bound (a TCP
    /// socket bound but never listening, kept open for the rest of the test run), so a test
    /// running in parallel cannot be given it and answer in its place.
    static func closedPort(host: String = "127.0.0.1") async throws -> EndpointAddress {
        let address = try SocketAddress(ipAddress: host, port: 0)
        let fd = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let bound = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IOError(errnoCode: code, reason: "bind")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IOError(errnoCode: code, reason: "getsockname")
        }
        // sin_port and sin6_port sit at the same offset, in network byte order.
        let port = Int(
            UInt16(bigEndian: withUnsafeBytes(of: &storage) { $0.load(fromByteOffset: 2, as: UInt16.self) }))
        reservedClosedPorts.withLock { $0.append(fd) }
        return EndpointAddress(ip: IPAddress(host)!, port: port)
    }

    private static func start(
        host: String,
        bootstrap: ServerBootstrap,
        handlers: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> TestBackend {
        let channel =
            try await bootstrap
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try handlers(child) }
            }
            .bind(to: try SocketAddress(ipAddress: host, port: 0))
            .get()
        return TestBackend(channel: channel, host: IPAddress(host)!, port: channel.localAddress!.port!)
    }

    /// Stops listening (accepted connections are left alone).
    func close() async {
        try? await channel.close()
    }
}

/// Writes one message, then closes.
private final class SayAndCloseHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let message: String

    init(message: String) {
        self.message = message
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: message)), promise: nil)
        context.close(promise: nil)
    }
}

/// Greets once, then echoes.
final class GreetEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let greeting: String

    init(greeting: String) {
        self.greeting = greeting
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: greeting)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// Writes a large stream only while the channel is writable, counting what the kernel took.
final class FloodHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let total: Int
    let progress: FloodProgress
    private var queued = 0

    init(total: Int, progress: FloodProgress) {
        self.total = total
        self.progress = progress
    }

    func channelActive(context: ChannelHandlerContext) {
        pump(context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump(context)
        context.fireChannelWritabilityChanged()
    }

    private func pump(_ context: ChannelHandlerContext) {
        while context.channel.isWritable && queued < total {
            let size = min(FloodPattern.chunk.readableBytes, total - queued)
            queued += size
            let isLast = queued == total
            let written = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(FloodPattern.chunk.getSlice(at: 0, length: size)!), promise: written)
            let (progress, channel) = (self.progress, context.channel)
            written.futureResult.whenSuccess {
                progress.add(size)
                if isLast { channel.close(promise: nil) }
            }
        }
        context.flush()
    }
}

/// Bytes a flood backend has handed to the kernel; lives on the backend's loop.
final class FloodProgress: Sendable {
    let eventLoop: any EventLoop
    private let box: NIOLoopBoundBox<Int>

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.box = .makeBoxSendingValue(0, eventLoop: eventLoop)
    }

    /// Called on the loop by the handler.
    func add(_ count: Int) {
        box.value += count
    }

    func bytes() async throws -> Int {
        try await eventLoop.submit { [box] in box.value }.get()
    }
}

/// The flood stream: byte `i` is `i % 251`, sent in chunks of a multiple of 251 bytes.
enum FloodPattern {
    static let chunk = ByteBuffer(bytes: (0..<(251 * 261)).map { UInt8($0 % 251) })
    private static let lookup = ByteBuffer(bytes: (0..<(251 * 261 + 251)).map { UInt8($0 % 251) })

    /// Whether `buffer` is the stretch of the stream starting at `offset` (compared with memcmp).
    static func matches(_ buffer: ByteBuffer, at offset: Int) -> Bool {
        var rest = buffer
        var position = offset
        while rest.readableBytes > 0 {
            let size = min(rest.readableBytes, chunk.readableBytes)
            guard let piece = rest.readSlice(length: size),
                piece == lookup.getSlice(at: position % 251, length: size)
            else { return false }
            position += size
        }
        return true
    }

    /// Reads `inbound` to its end: how many bytes came, and whether they were the pattern from
    /// its start.
    static func readToEnd(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> (bytes: Int, intact: Bool) {
        var received = 0
        var intact = true
        for try await buffer in inbound {
            intact = intact && matches(buffer, at: received)
            received += buffer.readableBytes
        }
        return (received, intact)
    }
}
