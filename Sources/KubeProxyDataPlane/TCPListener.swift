import KubeProxyCore
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The listening sockets of one TCP service port: one on the balancer's loop, and once the port
/// has accepted its first connection, one more per other event loop, all bound to the same port
/// with `SO_REUSEPORT`.
///
/// Each socket's accepted connections stay on that socket's loop (accept, dial, relay and close
/// without a cross-thread hop), and the kernel spreads new connections over the sockets, so a
/// busy port uses every core. Siblings open lazily so that ports which never see a connection
/// (most of 10,000 Services) cost one descriptor and one bind, and only while the data plane
/// holds less than half of its descriptor ceiling, less 64 (`siblingLimit(ceiling:)`):
/// near exhaustion every port keeps a single socket, so as many ports are served as before.
///
/// Accepted clients are handed to a `BackendConnector` with `autoRead` off, so no client byte is
/// read before a backend is connected. "Too many open files" and other resource errors of
/// `accept4` pause accepting for `AcceptBackoff.delay` instead of spinning (NIO's plain bootstrap
/// installs no back-off) or panicking like upstream (docs/userspace-behaviour.md#tcp-listeners).
/// TCP keepalive (`TCPKeepalive`) is set on the listening sockets, which Linux copies to every
/// accepted socket (four `setsockopt` calls per connection fewer); the dialled side sets its own.
final class TCPListener: ServicePortListener {
    let localPort: Int
    let balancer: ServiceBalancer
    /// The first listening channel, on the balancer's loop (tests inspect its pipeline).
    let channel: any Channel

    private struct Siblings {
        var isClosed = false
        var opened = false
        var channels: [any Channel] = []
        /// Binds in flight: `close` waits for them, so no sibling outlives the listener and
        /// the port is never released while one could still bind it.
        var pending: [EventLoopFuture<any Channel>] = []
    }

    private let siblings = Mutex(Siblings())
    private let siblingLoops: [any EventLoop]
    private let connector: BackendConnector
    private let keepalive: TCPKeepalive

    private init(
        channel: any Channel, localPort: Int, siblingLoops: [any EventLoop], connector: BackendConnector,
        keepalive: TCPKeepalive
    ) {
        self.channel = channel
        self.localPort = localPort
        self.balancer = connector.balancer
        self.siblingLoops = siblingLoops
        self.connector = connector
        self.keepalive = keepalive
    }

    /// Binds `address` on the balancer's loop and starts accepting; throws the bind error (e.g.
    /// `EADDRINUSE`). `loops` are the data plane's event loops: the others get a sibling socket
    /// after the first accepted connection.
    static func open(
        address: SocketAddress,
        loops: [any EventLoop],
        connector: BackendConnector,
        keepalive: TCPKeepalive
    ) async throws -> TCPListener {
        let home = connector.balancer.eventLoop
        let others = loops.filter { $0 !== home }
        let firstAccept = FirstAcceptSignal()
        let channel = try await bind(
            address, on: home, connector: connector, keepalive: keepalive, reusePort: !others.isEmpty,
            firstAccept: others.isEmpty ? nil : firstAccept
        )
        .get()
        let port = channel.localAddress?.port ?? address.port ?? 0
        let listener = TCPListener(
            channel: channel, localPort: port, siblingLoops: others, connector: connector, keepalive: keepalive)
        firstAccept.set { [weak listener] in listener?.openSiblings() }
        return listener
    }

    /// The listen queue of every listening socket.
    static let backlog: Int32 = 1024

    /// One listening socket on `loop`, bound to `address`; accepted channels stay on `loop`.
    ///
    /// The socket is created, configured and bound with system calls on the caller's thread
    /// (`ListeningSocket`), so a bind error (`EADDRINUSE`) throws here before any channel
    /// exists, and NIO only registers the finished socket: one event-loop task per listener,
    /// none of the bootstrap's per-option and bind futures.
    private static func bind(
        _ address: SocketAddress,
        on loop: any EventLoop,
        connector: BackendConnector,
        keepalive: TCPKeepalive,
        reusePort: Bool,
        firstAccept: FirstAcceptSignal?
    ) throws -> EventLoopFuture<any Channel> {
        var options = [ListeningSocket.reuseAddress]
        if reusePort { options.append(ListeningSocket.reusePort) }
        // Accepted sockets inherit the listener's keepalive settings.
        options += ListeningSocket.keepaliveOptions(keepalive)
        let fd = try ListeningSocket.tcp(address: address, options: options, backlog: backlog)
        return ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelInitializer { server in
                server.eventLoop.makeCompletedFuture {
                    // NIO listens again with its default queue of 128 when it adopts the socket.
                    try ListeningSocket.setBacklog(fd, backlog)
                    // Accept up to 16 queued connections per wake-up instead of NIO's default 4.
                    try server.syncOptions?.setOption(.maxMessagesPerRead, value: 16)
                }
                .flatMap { AcceptBackoff.install(on: server) }
                .flatMapThrowing {
                    guard let firstAccept else { return }
                    try server.pipeline.syncOperations.addHandler(FirstAcceptHandler(signal: firstAccept))
                }
            }
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    try client.pipeline.syncOperations.addHandler(connector.makeClientRelay())
                }
            }
            .withBoundSocket(fd)
    }

    /// `SO_REUSEPORT`, which NIO does not name.
    static let reusePort = ChannelOptions.Types.SocketOption(
        level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT))

    /// Opens one socket per other event loop on this listener's port, once, if the descriptor
    /// budget has room; a sibling that fails to bind is simply not there (the others serve).
    private func openSiblings() {
        let budget = connector.budget
        guard let address = channel.localAddress else { return }
        let binds = siblings.withLock { state -> [EventLoopFuture<any Channel>] in
            guard !state.isClosed, !state.opened else { return [] }
            state.opened = true
            guard budget.tryAcquire(siblingLoops.count, within: Self.siblingLimit(ceiling: budget.ceiling)) else {
                return []
            }
            // Started under the lock, so `close` either sees them pending or runs before them.
            state.pending = siblingLoops.map { loop in
                do {
                    return try Self.bind(
                        address, on: loop, connector: connector, keepalive: keepalive, reusePort: true, firstAccept: nil)
                } catch {
                    return loop.makeFailedFuture(error)
                }
            }
            return state.pending
        }
        for bind in binds {
            bind.whenComplete { [self] result in
                guard case .success(let sibling) = result else {
                    budget.release(1)
                    return
                }
                sibling.closeFuture.whenComplete { _ in budget.release(1) }
                let keep = siblings.withLock { state -> Bool in
                    guard !state.isClosed else { return false }
                    state.channels.append(sibling)
                    return true
                }
                if !keep { sibling.close(promise: nil) }
            }
        }
    }

    /// The most descriptors the data plane may hold after opening sibling sockets: half the
    /// ceiling less 64, so extras never take what connections need (a tiny budget gets none).
    static func siblingLimit(ceiling: Int) -> Int {
        ceiling / 2 - 64
    }

    /// The number of open listening sockets of this port (1 before the first connection).
    var socketCount: Int {
        1 + siblings.withLock { $0.channels.count }
    }

    func close() async {
        let (open, pending) = siblings.withLock { state -> ([any Channel], [EventLoopFuture<any Channel>]) in
            state.isClosed = true
            defer {
                state.channels = []
                state.pending = []
            }
            return (state.channels, state.pending)
        }
        // Siblings first, while the first socket still holds the port: a sibling bind still in
        // flight can then only join this listener, never a later owner of the port.
        for bind in pending {
            if let sibling = try? await bind.get() { try? await sibling.close() }
        }
        // Closing an already closed channel fails harmlessly; the socket is gone either way.
        for sibling in open { try? await sibling.close() }
        try? await channel.close()
    }
}

/// The callback a listener runs after its first accepted connection, set once the listener
/// exists (its first socket accepts before `open` returns).
private final class FirstAcceptSignal: Sendable {
    private let state = Mutex<(fired: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    /// Sets the action; runs it at once when the first accept already happened.
    func set(_ action: @escaping @Sendable () -> Void) {
        let run = state.withLock { state -> Bool in
            state.action = action
            return state.fired
        }
        if run { action() }
    }

    /// Records the first accept and runs the action if it is set.
    func fire() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.fired else { return nil }
            state.fired = true
            return state.action
        }
        action?()
    }
}

/// Sees the listening socket's first accepted channel, signals it and leaves the pipeline.
private final class FirstAcceptHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let signal: FirstAcceptSignal

    init(signal: FirstAcceptSignal) {
        self.signal = signal
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        signal.fire()
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
