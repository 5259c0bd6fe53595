import NIOCore
import NIOHTTP1
import NIOSSL

/// The fake server's HTTP/1.1 handler: collects a request, asks the server what to answer and
/// writes it, either a complete response or the head of a watch whose body the server streams.
///
/// One instance per connection, confined to its event loop. Requests that arrive during a
/// `stall` are answered when the stall ends.
final class FakeAPIHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: FakeAPIServer
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var watch: FakeAPIWatchStream?

    /// A handler answering for `server`.
    init(server: FakeAPIServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            watch = nil
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            self.head = nil
            let request = FakeAPIRequest(
                method: head.method.rawValue, uri: head.uri,
                authorization: head.headers.first(name: "authorization"),
                hasVerifiedClientCertificate: Self.hasClientCertificate(context), body: body,
                contentType: head.headers.first(name: "content-type")
            )
            server.record(request)
            let keepAlive = head.isKeepAlive
            // The control endpoint is never stalled, so an operator can end or change a stall.
            if !request.path.hasPrefix(FakeAPIRoute.controlPrefix), let until = server.stalledUntil(), until > .now() {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(deadline: until) {
                    bound.value.0.respond(to: request, keepAlive: keepAlive, context: bound.value.1)
                }
            } else {
                respond(to: request, keepAlive: keepAlive, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let watch { server.watchConnectionClosed(watch) }
        watch = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to request: FakeAPIRequest, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        switch server.respond(to: request) {
        case .complete(let response):
            write(response, keepAlive: keepAlive, context: context)
        case .completeThen(let response, let action):
            write(response, keepAlive: keepAlive, context: context, then: action)
        case .watch(let options):
            let stream = server.makeWatchStream(options: options, channel: context.channel, keepAlive: keepAlive)
            watch = stream
            server.startWatch(stream)
        }
    }

    private func write(
        _ response: FakeAPIResponse, keepAlive: Bool, context: ChannelHandlerContext, then action: (@Sendable () -> Void)? = nil
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-cache, private")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.code)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { FakeAPIConnectionFront.close(channel, abortive: false) }
            action?()
        }
    }

    private static func hasClientCertificate(_ context: ChannelHandlerContext) -> Bool {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) else { return false }
        return tls.peerCertificate != nil
    }
}
