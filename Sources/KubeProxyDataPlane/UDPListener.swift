import KubeProxyCore
import Logging
import NIOCore
import NIOPosix

/// The listening UDP socket of one service port, served by a `UDPListenerHandler` on the
/// balancer's event loop (one loop per UDP service port, like upstream's one reader per port,
/// upstream, but without blocking anything else).
///
/// Closing it ends every session of the port (docs/userspace-behaviour.md#udp-removal): their backend sockets are closed at once.
final class UDPListener: ServicePortListener {
    let localPort: Int
    let balancer: ServiceBalancer
    private let channel: any Channel

    private init(channel: any Channel, localPort: Int, balancer: ServiceBalancer) {
        self.channel = channel
        self.localPort = localPort
        self.balancer = balancer
    }

    /// Binds `address` and starts serving; throws the bind error (e.g. `EADDRINUSE`).
    ///
    /// No `SO_REUSEADDR`: on Linux it would let another UDP socket with the same option share
    /// the port and steal datagrams.
    static func open(
        address: SocketAddress,
        name: ServicePortName,
        listenAddress: IPAddress,
        balancer: ServiceBalancer,
        counters: ListenerCounters,
        settings: UDPSessionSettings,
        budget: DescriptorBudget,
        logger: Logger
    ) async throws -> UDPListener {
        // Bound here with system calls (`ListeningSocket`): a bind error throws before any
        // channel exists, and NIO only registers the socket (no per-option futures).
        let fd = try ListeningSocket.udp(address: address, options: [])
        let channel = try await DatagramBootstrap(group: balancer.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
                    try options.setOption(.recvAllocator, value: UDPReceiveBuffer.receiveAllocator)
                    try options.setOption(.maxMessagesPerRead, value: 16)
                    let handler = UDPListenerHandler(
                        name: name, listenAddress: listenAddress, balancer: balancer, counters: counters,
                        settings: settings, budget: budget, logger: logger
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .withBoundSocket(fd)
            .get()
        let port = channel.localAddress?.port ?? address.port ?? 0
        return UDPListener(channel: channel, localPort: port, balancer: balancer)
    }

    func close() async {
        try? await channel.close()
    }
}
