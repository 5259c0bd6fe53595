// A tiny HTTP/1.1 backend for the bundled example, the end-to-end tests and the benchmarks.
//
// Every response names the backend (`--name`), so a person or a test can see which endpoint
// the proxy chose. It keeps connections alive unless the client asks to close, so tests can
// hold one connection open across endpoint changes.
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 8080
    var name = "backend"
    var bodySize: Int? = nil
    var udp: (host: String, port: Int)? = nil
    /// Whether answers also name the client's address as the backend saw it, so kernel-mode
    /// tests can tell a masqueraded connection (the node's address) from one that kept its source.
    var echoClient = false

    static func parse(_ args: [String]) -> Options {
        var options = Options()
        var it = args.dropFirst().makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--listen":
                guard let value = it.next(), let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...])
                else { fail("--listen takes HOST:PORT") }
                options.host = String(value[..<colon]).trimmingCharacters(in: "[]")
                options.port = port
            case "--udp-listen":
                guard let value = it.next(), let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...])
                else { fail("--udp-listen takes HOST:PORT") }
                options.udp = (String(value[..<colon]).trimmingCharacters(in: "[]"), port)
            case "--echo-client":
                options.echoClient = true
            case "--name":
                guard let value = it.next() else { fail("--name takes a value") }
                options.name = value
            case "--body-size":
                guard let value = it.next(), let n = Int(value), n >= 0 else { fail("--body-size takes a byte count") }
                options.bodySize = n
            case "-h", "--help":
                print(
                    "usage: example-backend --listen HOST:PORT [--udp-listen HOST:PORT] [--name NAME] [--body-size BYTES] [--echo-client]")
                exit(0)
            default:
                fail("unknown argument \(arg)")
            }
        }
        return options
    }

    static func fail(_ message: String) -> Never {
        var stderr = StandardError()
        print("example-backend: \(message)", to: &stderr)
        exit(2)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// Answers every request with a fixed body; the default body names the backend.
///
/// Honours keep-alive: after a request that asks to close (`Connection: close`, or HTTP/1.0
/// without keep-alive) the response says so and the connection is closed once it is written.
/// Not Sendable: one instance per connection, confined to its event loop.
final class ResponderHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let fixedBody: ByteBuffer
    /// With `--echo-client`: the backend's name, for a body that also names the client.
    let echoName: String?
    private var keepAlive = true

    init(body: ByteBuffer, echoName: String? = nil) {
        self.fixedBody = body
        self.echoName = echoName
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            var body = fixedBody
            if let echoName {
                let client = context.channel.remoteAddress?.ipAddress ?? "?"
                body = context.channel.allocator.buffer(string: "hello from \(echoName) client=\(client)\n")
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            headers.add(name: "Content-Type", value: "text/plain")
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if keepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Answers every datagram with `NAME PAYLOAD`, so UDP tests see which backend replied.
final class UDPEchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let name: String
    let echoClient: Bool

    init(name: String, echoClient: Bool = false) {
        self.name = name
        self.echoClient = echoClient
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var reply = context.channel.allocator.buffer(capacity: envelope.data.readableBytes + name.utf8.count + 1)
        reply.writeString(name + " ")
        if echoClient { reply.writeString("client=\(envelope.remoteAddress.ipAddress ?? "?") ") }
        var payload = envelope.data
        reply.writeBuffer(&payload)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
    }
}

let options = Options.parse(CommandLine.arguments)
var body = ByteBuffer()
if let size = options.bodySize {
    body.writeRepeatingByte(UInt8(ascii: "x"), count: size)
} else {
    body.writeString("hello from \(options.name)\n")
}
let responseBody = body
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(
                ResponderHandler(body: responseBody, echoName: options.echoClient ? options.name : nil))
        }
    }
do {
    if let udp = options.udp {
        let name = options.name
        let udpChannel = try DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.pipeline.addHandler(UDPEchoHandler(name: name, echoClient: options.echoClient))
            }
            .bind(host: udp.host, port: udp.port).wait()
        let port = udpChannel.localAddress?.port ?? udp.port
        var line = Array("example-backend \(options.name) udp listening on \(udp.host):\(port)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    }
    let channel = try bootstrap.bind(host: options.host, port: options.port).wait()
    let port = channel.localAddress?.port ?? options.port
    // Written with write(2), unbuffered, so a parent reading the pipe sees it at once.
    var line = Array("example-backend \(options.name) listening on \(options.host):\(port)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    try channel.closeFuture.wait()
} catch {
    Options.fail("cannot listen on \(options.host):\(options.port): \(error)")
}
