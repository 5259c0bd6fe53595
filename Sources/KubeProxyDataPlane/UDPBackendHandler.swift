import NIOCore

/// The handler of one UDP session's connected backend socket: hands replies to the listener,
/// which sends them to the client from the service's socket (docs/userspace-behaviour.md#udp-sessions).
///
/// Any error on the socket (typically ECONNREFUSED after an ICMP port unreachable from a dead
/// endpoint) ends the session, as upstream's reply loop did; the client's next datagram
/// opens a new session on the next endpoint in turn.
final class UDPBackendHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let listener: UDPListenerHandler
    private let client: SocketAddress
    private let id: UDPListenerHandler.Table.SessionID

    /// Creates the handler for session `id` of `client`; both channels share one event loop.
    init(listener: UDPListenerHandler, client: SocketAddress, id: UDPListenerHandler.Table.SessionID) {
        self.listener = listener
        self.client = client
        self.id = id
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // First: the received bytes live in the loop's shared region (`UDPReceiveBuffer`).
        let reply = UDPReceiveBuffer.copyOut(unwrapInboundIn(data).data, using: context.channel.allocator)
        listener.relayReply(reply, client: client, id: id)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        listener.flushReplies()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        listener.backendClosed(client: client, id: id)
        context.fireChannelInactive()
    }
}
