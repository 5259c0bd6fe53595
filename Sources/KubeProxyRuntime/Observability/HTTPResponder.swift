import NIOCore
import NIOHTTP1

/// What a route sees of a request: the method and the path without its query string.
struct HTTPRouteRequest: Sendable {
    /// The request method (routes answer any method, like Go's `ServeMux` handlers upstream uses).
    var method: HTTPMethod
    /// The path, query string removed (`/healthz?verbose` routes as `/healthz`).
    var path: String
}

/// A complete response produced by a route: small, fully buffered bodies only.
struct HTTPRouteResponse: Sendable {
    /// The status line.
    var status: HTTPResponseStatus
    /// Headers besides `Content-Length` and `Connection`, which the responder adds.
    var headers: [(String, String)]
    /// The body bytes.
    var body: [UInt8]

    /// Go's `http.NotFound` answer, which upstream's muxes give for unknown paths.
    static let notFound = HTTPRouteResponse(
        status: .notFound,
        headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
        body: Array("404 page not found\n".utf8))
}

/// Maps a request to a response; called on the channel's event loop, so it must be quick and
/// must not block (reading a lock-protected value or rendering a registry is fine).
typealias HTTPRoute = @Sendable (HTTPRouteRequest) -> HTTPRouteResponse

/// The one HTTP/1 handler of every observability server: collects a request, asks the route,
/// writes the response, and closes the connection when the client did not ask for keep-alive.
///
/// It reports each complete request and each written response to `HTTPConnectionTimer` (outbound
/// user events), which closes idle and slow connections.
///
/// Why one handler with a route closure: healthz/livez, metrics and per-service health checks
/// differ only in how they answer; NIO's `HTTPServerPipelineHandler` and
/// `HTTPServerProtocolErrorHandler` (installed by `configureHTTPServerPipeline`) already take
/// care of pipelining and malformed requests (400).
final class HTTPResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: HTTPRoute
    private var head: HTTPRequestHead?

    /// Creates a responder answering every request of its connection through `route`.
    init(route: @escaping HTTPRoute) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // No endpoint takes a body; it is read and dropped.
        case .end:
            guard let head else { return }
            self.head = nil
            context.triggerUserOutboundEvent(HTTPConnectionEvent.requestReceived, promise: nil)
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first
            respond(context: context, to: head, with: route(.init(method: head.method, path: String(path ?? ""))))
        }
    }

    private func respond(
        context: ChannelHandlerContext, to request: HTTPRequestHead, with response: HTTPRouteResponse
    ) {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(
                .head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))),
            promise: nil)
        if request.method != .HEAD && !response.body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))),
                promise: nil)
        }
        let done = context.writeAndFlushPromise(wrapOutboundOut(.end(nil)))
        let channel = context.channel
        if keepAlive {
            // Starts the idle clock of `HTTPConnectionTimer` once the client has the answer.
            done.whenSuccess { _ in channel.triggerUserOutboundEvent(HTTPConnectionEvent.responseSent, promise: nil) }
        } else {
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken connection concerns only that client; nothing to report beyond closing it.
        context.close(promise: nil)
    }
}

extension ChannelHandlerContext {
    /// Writes and flushes `data`, returning the future of the write.
    fileprivate func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
