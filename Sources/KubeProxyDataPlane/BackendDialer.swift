import KubeProxyCore
import NIOCore
import NIOPosix

/// Opens the proxy's connection to an endpoint.
///
/// A seam so tests can model black-holed or refusing backends without real network tricks.
/// Contract: the returned channel lives on `eventLoop` (the relay glues it to the client's
/// channel without locks) and has `autoRead` off (the relay decides when to read).
protocol BackendDialer: Sendable {
    /// Connects to `endpoint`, failing after `timeout`.
    func connect(
        to endpoint: EndpointAddress,
        on eventLoop: any EventLoop,
        timeout: TimeAmount
    ) -> EventLoopFuture<any Channel>
}

/// The production dialer: a plain TCP connect with NIO's connect timeout and TCP keepalive.
struct TCPBackendDialer: BackendDialer {
    /// The keepalive of every dialled socket (upstream's dialer enables it too).
    var keepalive = TCPKeepalive.upstream

    func connect(
        to endpoint: EndpointAddress,
        on eventLoop: any EventLoop,
        timeout: TimeAmount
    ) -> EventLoopFuture<any Channel> {
        let address: SocketAddress
        do {
            address = try endpoint.ip.socketAddress(port: endpoint.port)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.autoRead, value: false)
            .keepalive(keepalive)
            .connect(to: address)
    }
}
