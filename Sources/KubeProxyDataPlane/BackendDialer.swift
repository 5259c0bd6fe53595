import KubeProxyCore
import NIOCore
import NIOPosix
import Synchronization

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
///
/// A `ClientBootstrap` is a class holding the option list; building one per dial cost a dozen
/// allocations, so one is kept per event loop and timeout (a loop uses only its own, and the
/// ladder has four timeouts) and reused for every dial.
struct TCPBackendDialer: BackendDialer {
    /// The keepalive of every dialled socket (upstream's dialer enables it too).
    var keepalive = TCPKeepalive.upstream
    private let bootstraps = BootstrapCache()

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
        return bootstraps.bootstrap(on: eventLoop, timeout: timeout, keepalive: keepalive).connect(to: address)
    }
}

/// The reusable `ClientBootstrap`s of one dialer, by event loop and connect timeout.
private final class BootstrapCache: Sendable {
    private struct Key: Hashable {
        let loop: ObjectIdentifier
        let timeoutNanoseconds: Int64
        let keepalive: TCPKeepalive
    }

    private let cache = Mutex<[Key: ClientBootstrap]>([:])

    /// The bootstrap dialling on `eventLoop` with `timeout`, made on first use.
    func bootstrap(on eventLoop: any EventLoop, timeout: TimeAmount, keepalive: TCPKeepalive) -> ClientBootstrap {
        let key = Key(loop: ObjectIdentifier(eventLoop), timeoutNanoseconds: timeout.nanoseconds, keepalive: keepalive)
        return cache.withLock { cache in
            if let bootstrap = cache[key] { return bootstrap }
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelOption(.autoRead, value: false)
                .keepalive(keepalive)
            cache[key] = bootstrap
            return bootstrap
        }
    }
}
