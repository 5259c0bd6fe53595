import NIOCore

/// Relays bytes between two channels on the same event loop, one handler in each pipeline.
///
/// The shape of swift-nio-examples' connect-proxy `GlueHandler`, with these choices:
/// - Back-pressure: both channels run with `autoRead` off. A handler asks its channel for more
///   bytes only while the *partner* is writable, and otherwise remembers the wish until the
///   partner's writability returns. So at most one read burst plus the partner's write-buffer
///   high-water mark is held in memory per direction; a slow reader stalls the fast writer.
/// - Close: when either channel closes (EOF, error or reset), the partner first flushes what it
///   was already handed and then closes fully, like upstream's copy loop (docs/userspace-behaviour.md#tcp-relay). Half-close is
///   deliberately not propagated, as upstream (PR #18524): half-open pairs leaked sockets.
/// - No locks: both channels share one loop (the dialer connects on the client's loop), so the
///   partner reference is only touched on that loop.
/// - Statistics: each handler counts the bytes its channel read in a plain integer and folds them
///   into the listener's atomic counters once per read burst and when the channel closes, so the
///   counters lag by at most one burst.
final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    /// A read was requested while the partner could not take more bytes.
    private var pendingRead = false
    /// Where this side's read bytes are reported, and as which direction.
    private let counters: ListenerCounters?
    private let direction: ListenerCounters.Direction
    /// Bytes read since the last report.
    private var unreportedBytes = 0
    /// Starts the dial of a client side made by `awaitingBackend`; dropped once run.
    private var onActive: ((any Channel, GlueHandler) -> Void)?

    private init(counters: ListenerCounters?, direction: ListenerCounters.Direction) {
        self.counters = counters
        self.direction = direction
    }

    /// Two handlers that relay to each other: the first for the client's channel, the second for
    /// the backend's. Relayed bytes are added to `counters` when given.
    static func matchedPair(counters: ListenerCounters? = nil) -> (client: GlueHandler, backend: GlueHandler) {
        let client = GlueHandler(counters: counters, direction: .clientToBackend)
        let backend = GlueHandler(counters: counters, direction: .backendToClient)
        client.partner = backend
        backend.partner = client
        return (client, backend)
    }

    /// The client side of a relay whose backend is not dialled yet, added by the listener's
    /// child initializer. `onActive` runs once NIO activates the accepted channel (only after
    /// its initializer, so a dial started earlier could find an inactive client); the backend
    /// side comes later from `makeBackendPartner()`. One handler for the whole life of the
    /// client channel: no start handler to add and remove per connection.
    static func awaitingBackend(
        counters: ListenerCounters?,
        onActive: @escaping (any Channel, GlueHandler) -> Void
    ) -> GlueHandler {
        let client = GlueHandler(counters: counters, direction: .clientToBackend)
        client.onActive = onActive
        return client
    }

    /// The backend side paired with this client side (see `awaitingBackend`).
    func makeBackendPartner() -> GlueHandler {
        let backend = GlueHandler(counters: counters, direction: .backendToClient)
        partner = backend
        backend.partner = self
        return backend
    }

    /// Folds the bytes read since the last report into the listener's counters.
    private func reportBytes() {
        counters?.relayed(direction, bytes: unreportedBytes)
        unreportedBytes = 0
    }

    /// The partner wrote these bytes for our channel.
    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    /// The partner finished a read burst.
    private func partnerFlush() {
        context?.flush()
    }

    /// The partner's channel closed: deliver what we already hold, then close ours.
    private func partnerClosed() {
        guard let context else { return }
        let channel = context.channel
        let flushed = context.eventLoop.makePromise(of: Void.self)
        // An empty write completes only after every earlier write, so this closes after them.
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: flushed)
        flushed.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    /// The partner can take bytes again: serve a read we held back.
    private func partnerBecameWritable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Whether the partner's channel can take more bytes now.
    private var partnerIsWritable: Bool {
        partner?.context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        if let start = onActive {
            onActive = nil
            start(context.channel, self)
        }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        reportBytes()
        self.context = nil
        self.partner = nil
        self.onActive = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        unreportedBytes += unwrapInboundIn(data).readableBytes
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reportBytes()
        partner?.partnerFlush()
        // autoRead is off: ask for the next burst ourselves, under the same writability rule.
        read(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reportBytes()
        partner?.partnerClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Closing our side makes channelInactive close the partner: one path for every ending.
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partnerIsWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
