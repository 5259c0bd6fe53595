import KubeProxyCore
import NIOCore
import NIOPosix

/// The listening socket of one TCP service port.
///
/// The server channel lives on the balancer's loop; accepted connections are spread over the
/// whole group and, once active, handed to a `BackendConnector` with `autoRead` off, so no client
/// byte is read before a backend is connected. "Too many open files" and other resource errors
/// of `accept4` pause accepting for `AcceptBackoff.delay` instead of spinning (NIO's plain
/// bootstrap installs no back-off) or panicking like upstream (docs/userspace-behaviour.md#tcp-listeners). Both relay sockets get
/// TCP keepalive (`TCPKeepalive`); the client's is set here, on accept.
final class TCPListener: ServicePortListener {
    let localPort: Int
    let balancer: ServiceBalancer
    /// The listening channel (tests inspect its pipeline).
    let channel: any Channel

    private init(channel: any Channel, localPort: Int, balancer: ServiceBalancer) {
        self.channel = channel
        self.localPort = localPort
        self.balancer = balancer
    }

    /// Binds `address` and starts accepting; throws the bind error (e.g. `EADDRINUSE`).
    static func open(
        address: SocketAddress,
        childGroup: any EventLoopGroup,
        connector: BackendConnector,
        keepalive: TCPKeepalive
    ) async throws -> TCPListener {
        let channel = try await ServerBootstrap(group: connector.balancer.eventLoop, childGroup: childGroup)
            .serverChannelInitializer { AcceptBackoff.install(on: $0) }
            // Like Go's net.Listen: a port freed by a removed service is reusable at once even
            // while its old connections sit in TIME_WAIT. It does not allow two live listeners.
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.autoRead, value: false)
            .childKeepalive(keepalive)
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    try client.pipeline.syncOperations.addHandler(ConnectionStartHandler(connector: connector))
                }
            }
            .bind(to: address)
            .get()
        let port = channel.localAddress?.port ?? address.port ?? 0
        return TCPListener(channel: channel, localPort: port, balancer: connector.balancer)
    }

    func close() async {
        // Closing an already closed channel fails harmlessly; the socket is gone either way.
        try? await channel.close()
    }
}
