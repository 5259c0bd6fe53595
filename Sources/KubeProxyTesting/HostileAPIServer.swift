import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A plain-HTTP "API server" that misbehaves on purpose, for the client's size limits: it
/// answers discovery and LISTs like an empty cluster, but streams **one endless watch line** on
/// chosen paths and **oversized LIST bodies** on others.
///
/// Why not ``FakeAPIServer``: its watch streams speak correct JSON lines by construction; this
/// server writes raw bytes with back-pressure, so a client that forgets its limits shows up as
/// RSS, not as a parse error. Every stream is bounded (`streamCap`, default 256 MiB per
/// response) so a broken client cannot turn a test into an unbounded load. Listens on loopback
/// only; ``shutdown()`` closes the listener and every connection.
public final class HostileAPIServer: Sendable {
    /// What to break.
    public struct Behaviour: Sendable {
        /// Watches (`watch=true`) of these paths get a `200` and one line that never ends.
        public var endlessWatchPaths: Set<String>
        /// LISTs of these paths get a `200` body (chunked, no `Content-Length`) of this many bytes.
        public var oversizedLists: [String: Int]
        /// The most bytes written for one response; then the connection is closed.
        public var streamCap: Int

        /// Creates a behaviour; by default nothing misbehaves.
        public init(endlessWatchPaths: Set<String> = [], oversizedLists: [String: Int] = [:], streamCap: Int = 256 << 20) {
            self.endlessWatchPaths = endlessWatchPaths
            self.oversizedLists = oversizedLists
            self.streamCap = streamCap
        }
    }

    /// Requests of one path, counted.
    public struct Counts: Sendable, Hashable {
        /// Plain GETs (LISTs, discovery).
        public var gets = 0
        /// Watches.
        public var watches = 0
    }

    private struct State {
        var counts: [String: Counts] = [:]
        var bytesStreamed = 0
        var connections: [ObjectIdentifier: any Channel] = [:]
        var listener: (any Channel)?
        var port = 0
    }

    /// What this server breaks.
    public let behaviour: Behaviour
    private let state = Mutex(State())

    private init(behaviour: Behaviour) {
        self.behaviour = behaviour
    }

    /// Starts listening on `127.0.0.1` at a free port.
    public static func start(_ behaviour: Behaviour) async throws -> HostileAPIServer {
        let server = HostileAPIServer(behaviour: behaviour)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HostileAPIHandler(server: server))
                    server.state.withLock { $0.connections[ObjectIdentifier(channel)] = channel }
                    channel.closeFuture.whenComplete { _ in
                        _ = server.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                    }
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        server.state.withLock {
            $0.listener = channel
            $0.port = channel.localAddress?.port ?? 0
        }
        return server
    }

    /// The port it listens on.
    public var port: Int { state.withLock { $0.port } }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Requests made for `path` (without query) so far.
    public func counts(_ path: String) -> Counts {
        state.withLock { $0.counts[path] ?? Counts() }
    }

    /// Body bytes written by misbehaving responses so far.
    public var bytesStreamed: Int { state.withLock { $0.bytesStreamed } }

    /// Closes the listener and every connection.
    public func shutdown() async {
        let (listener, connections) = state.withLock { state in
            defer {
                state.listener = nil
                state.connections = [:]
            }
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections { try? await connection.close() }
    }

    fileprivate func record(path: String, watch: Bool) {
        state.withLock { state in
            if watch { state.counts[path, default: Counts()].watches += 1 } else { state.counts[path, default: Counts()].gets += 1 }
        }
    }

    fileprivate func streamed(_ bytes: Int) {
        state.withLock { $0.bytesStreamed += bytes }
    }
}

/// Answers one connection's requests; writes misbehaving bodies with back-pressure.
private final class HostileAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Streaming {
        case idle
        /// Writing `remaining` more bytes of `filler` (then end or close).
        case writing(remaining: Int, filler: UInt8, endsCleanly: Bool)
        /// A quiet watch: nothing to write, the connection stays open.
        case holding
    }

    private let server: HostileAPIServer
    private var head: HTTPRequestHead?
    private var streaming = Streaming.idle
    private var insideWriteMore = false
    private let chunk = 64 << 10

    init(server: HostileAPIServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        streaming = .idle
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writeMore(context: context) }
        context.fireChannelWritabilityChanged()
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let parts = head.uri.split(separator: "?", maxSplits: 1)
        let path = parts.first.map(String.init) ?? head.uri
        let watch = parts.count > 1 && parts[1].split(separator: "&").contains("watch=true")
        server.record(path: path, watch: watch)
        let behaviour = server.behaviour
        if path == "/apis/discovery.k8s.io/v1" {
            let body =
                #"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"discovery.k8s.io/v1","resources":"#
                + #"[{"name":"endpointslices","namespaced":true,"kind":"EndpointSlice","verbs":["list","watch"]}]}"#
            return answer(body, context: context)
        }
        if watch {
            startStream(context: context)
            if behaviour.endlessWatchPaths.contains(path) {
                let prefix = #"{"type":"ADDED","object":{"kind":"Service","apiVersion":"v1","metadata":{"name":""#
                write(Array(prefix.utf8), context: context)
                streaming = .writing(remaining: behaviour.streamCap, filler: UInt8(ascii: "a"), endsCleanly: false)
                writeMore(context: context)
            } else {
                streaming = .holding
                context.flush()
            }
            return
        }
        if let size = behaviour.oversizedLists[path] {
            startStream(context: context)
            write(Array(#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#.utf8), context: context)
            streaming = .writing(remaining: min(size, behaviour.streamCap), filler: UInt8(ascii: " "), endsCleanly: true)
            writeMore(context: context)
            return
        }
        answer(#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#, context: context)
    }

    private func answer(_ body: String, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func startStream(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
    }

    /// Writes filler while the channel is writable; ends (or closes) when the budget is spent.
    ///
    /// A flush can fire `channelWritabilityChanged` (and so this method) re-entrantly: the
    /// state is updated before every write and a re-entrant call returns at once, so the outer
    /// loop never writes after the end it did not see.
    private func writeMore(context: ChannelHandlerContext) {
        guard !insideWriteMore else { return }
        insideWriteMore = true
        defer { insideWriteMore = false }
        while case .writing(let remaining, let filler, let endsCleanly) = streaming {
            guard remaining > 0 else {
                streaming = .idle
                if endsCleanly {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else {
                    context.close(promise: nil)
                }
                return
            }
            guard context.channel.isActive, context.channel.isWritable else { return }
            let size = min(chunk, remaining)
            streaming = .writing(remaining: remaining - size, filler: filler, endsCleanly: endsCleanly)
            write([UInt8](repeating: filler, count: size), context: context)
            server.streamed(size)
            context.flush()
        }
    }
}
