import NIOCore

/// Starts serving an accepted client once its channel is active, then leaves the pipeline.
///
/// The child-channel initializer runs before NIO registers the accepted channel and makes it
/// active; a dial started there could finish first and find an inactive client. Waiting for
/// `channelActive` makes "connected backend + active client" the only glue case.
final class ConnectionStartHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let connector: BackendConnector

    init(connector: BackendConnector) {
        self.connector = connector
    }

    func channelActive(context: ChannelHandlerContext) {
        connector.serve(context.channel)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
