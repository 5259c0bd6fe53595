import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// A pass-through handler at the socket end of every connection's pipeline, so the server can
/// close a connection *below* TLS: without a `close_notify` and, when abortive, with an RST
/// (SO_LINGER 0), which is what a client sees when a server or the network dies.
final class FakeAPIConnectionFront: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// Closes `channel` from this handler's position; `abortive` resets the connection.
    static func close(_ channel: any Channel, abortive: Bool) {
        channel.eventLoop.execute {
            guard let context = try? channel.pipeline.syncOperations.context(handlerType: FakeAPIConnectionFront.self) else {
                channel.close(promise: nil)
                return
            }
            if abortive, let provider = channel as? any SocketOptionProvider {
                let bound = NIOLoopBound(context, eventLoop: channel.eventLoop)
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in bound.value.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }
}
