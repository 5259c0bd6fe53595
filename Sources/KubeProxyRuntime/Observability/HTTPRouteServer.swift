import KubeProxyCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The server plumbing shared by the healthz, metrics and per-service health check servers: bind
/// one address, serve every connection with an `HTTPResponder` over a route, close on shutdown.
///
/// Lifecycle: `start()` binds (idempotent; returns the bound port, useful with port 0);
/// `shutdown()` closes the listening socket (idempotent; a later `start()` does nothing);
/// `run()` is the swift-service-lifecycle shape: start, serve until graceful shutdown or
/// cancellation, close. Open keep-alive connections are closed with the listener, so a stopped
/// health check port stops answering at once.
///
/// Abuse resistance (`HTTPServerLimits`): at most `maxConnections` connections at once (the
/// listening socket stops accepting at the limit, so the server never holds more descriptors
/// than that), a pause in accepting after `EMFILE` and similar errors instead of a busy loop
/// (`AcceptGate`), and idle, slow or non-reading clients closed after their deadline
/// (`HTTPConnectionTimer`).
final class HTTPRouteServer: Sendable {
    private enum State {
        case idle
        /// A bind is in flight; concurrent `start()` calls wait for its outcome.
        case starting(waiters: [CheckedContinuation<Int, any Error>])
        case running(any Channel)
        case closed
    }

    /// Which server this is, for logs and errors (`healthz`, `metrics`, …).
    let name: String
    /// The address it listens on.
    let ip: IPAddress
    /// The port it was asked to listen on (0: any free port).
    let port: Int
    private let group: any EventLoopGroup
    private let route: HTTPRoute
    /// The connection cap, deadlines and accept back-off.
    let limits: HTTPServerLimits
    private let logger: Logger
    private let state = Mutex(State.idle)
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    /// Creates a server for `ip:port` answering through `route`; nothing is bound yet.
    init(
        name: String, ip: IPAddress, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        limits: HTTPServerLimits = .observability, logger: Logger, route: @escaping HTTPRoute
    ) {
        self.name = name
        self.limits = limits
        self.ip = ip
        self.port = port
        self.group = group
        self.logger = logger
        self.route = route
    }

    /// `ip:port` (`[ip]:port` for IPv6) as asked for.
    var address: String { "\(ip.bracketedDescription):\(port)" }

    /// Binds and starts serving; returns the bound port. Throws `ServerBindError` naming the
    /// address and the OS error. A call while another is binding waits for that bind; a call
    /// after `shutdown()` returns 0 without binding.
    @discardableResult
    func start() async throws(ServerBindError) -> Int {
        enum Step {
            case bind
            case wait
            case done(Int)
        }
        let step: Step = state.withLock { state in
            switch state {
            case .idle:
                state = .starting(waiters: [])
                return .bind
            case .starting: return .wait
            case .running(let channel): return .done(channel.localAddress?.port ?? port)
            case .closed: return .done(0)
            }
        }
        switch step {
        case .done(let port): return port
        case .wait: return try await waitForBind()
        case .bind: return try await bindAndPublish()
        }
    }

    private func bindAndPublish() async throws(ServerBindError) -> Int {
        let channel: any Channel
        do {
            channel = try await bind()
        } catch {
            let failure = ServerBindError(server: name, address: address, underlying: error)
            let waiters = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
                guard case .starting(let waiters) = state else { return [] }
                state = .idle
                return waiters
            }
            for waiter in waiters { waiter.resume(throwing: failure) }
            throw failure
        }
        let bound = channel.localAddress?.port ?? port
        let (keep, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Int, any Error>]) in
            guard case .starting(let waiters) = state else { return (false, []) }
            state = .running(channel)
            return (true, waiters)
        }
        guard keep else {
            // shutdown() ran while binding (and already released the waiters).
            try? await channel.close()
            return 0
        }
        for waiter in waiters { waiter.resume(returning: bound) }
        logger.info("serving \(name)", metadata: ["address": "\(ip.bracketedDescription):\(bound)"])
        return bound
    }

    private func waitForBind() async throws(ServerBindError) -> Int {
        let outcome: Int
        do {
            outcome = try await withCheckedThrowingContinuation { continuation in
                let now: Int? = state.withLock { state in
                    switch state {
                    case .starting(var waiters):
                        waiters.append(continuation)
                        state = .starting(waiters: waiters)
                        return nil
                    case .running(let channel): return channel.localAddress?.port ?? port
                    case .closed: return 0
                    case .idle: return -1  // That bind failed before we queued: try ourselves.
                    }
                }
                if let now { continuation.resume(returning: now) }
            }
        } catch let error as ServerBindError {
            throw error
        } catch {
            throw ServerBindError(server: name, address: address, underlying: error)
        }
        return outcome >= 0 ? outcome : try await start()
    }

    /// Stops listening and closes open connections.
    func shutdown() async {
        let (channel, waiters) = state.withLock { state -> ((any Channel)?, [CheckedContinuation<Int, any Error>]) in
            defer { state = .closed }
            switch state {
            case .running(let channel): return (channel, [])
            case .starting(let waiters): return (nil, waiters)
            case .idle, .closed: return (nil, [])
            }
        }
        for waiter in waiters { waiter.resume(returning: 0) }
        guard let channel else { return }
        try? await channel.close()
        let open = connections.withLock { Array($0.values) }
        for connection in open { try? await connection.close() }
    }

    /// Runs as a service: binds (retrying every `retryInterval` when given, as upstream retries
    /// healthz/metrics binds unless `--bind-address-hard-fail`; else the bind error is thrown),
    /// then serves until graceful shutdown or cancellation.
    func run(retryInterval: Duration?) async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await self.startRetrying(every: retryInterval)
                try await gracefulShutdown()
            }
        } catch let error as ServerBindError {
            await shutdown()
            throw error
        } catch {
            // Cancellation or graceful shutdown: the normal way out.
        }
        await shutdown()
    }

    private func startRetrying(every interval: Duration?) async throws {
        while true {
            do {
                try await start()
                return
            } catch {
                guard let interval else { throw error }
                logger.error("\(error); retrying", metadata: ["retryIn": "\(interval)"])
                try await Task.sleep(for: interval)
            }
        }
    }

    /// Remembers an accepted connection until it closes, so `shutdown()` can close it.
    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        connections.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = connections.withLock { $0.removeValue(forKey: id) }
        }
    }

    private func bind() async throws -> any Channel {
        let socketAddress = try SocketAddress(packedIPAddress: ByteBuffer(bytes: ip.bytes), port: port)
        let route = self.route
        let (limits, name, logger) = (self.limits, self.name, self.logger)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 128)
            // One accept per wake-up, so the gate sees each connection before the next is taken
            // and the cap is exact (these servers see a few connections a second).
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptGate(limits: limits, server: name, logger: logger))
                }
            }
            .childChannelInitializer { [self] channel in
                track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTPConnectionTimer(limits: limits))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPResponder(route: route))
                }
            }
            .bind(to: socketAddress)
            .get()
    }
}
