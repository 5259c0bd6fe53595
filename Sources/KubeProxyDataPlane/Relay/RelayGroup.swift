#if canImport(Glibc)
    import Glibc
    import CKubeProxyLinux
#endif
import KubeProxyCore
import Logging
import NIOCore
import Synchronization

/// Which engine relays the bytes of TCP service ports (`--userspace-tcp-relay`).
public enum TCPRelayEngine: String, Sendable, CaseIterable {
    /// The proxy's own `epoll` threads (`RelayGroup`): one registration per socket, no channel
    /// objects, a listening socket shared by every thread. Linux only.
    case epoll
    /// SwiftNIO channels (`TCPListener`, `GlueHandler`): one pipeline per socket.
    case nio

    /// The engine used when none is asked for: `epoll` where it exists.
    public static var platformDefault: TCPRelayEngine {
        #if canImport(Glibc)
            return .epoll
        #else
            return .nio
        #endif
    }
}

/// Counters shared by the relay threads of one group.
final class RelayStatistics: Sendable {
    private let sockets = Atomic<Int>(0)

    func socketOpened() { sockets.wrappingAdd(1, ordering: .relaxed) }
    func socketClosed() { sockets.wrappingSubtract(1, ordering: .relaxed) }

    /// Open relayed sockets: two per connection, one (the client's) while its backend is being dialled.
    var openSockets: Int { sockets.load(ordering: .relaxed) }
}

#if canImport(Glibc)

    /// The relay threads of a userspace proxy (`RelayLoop`, one per core by default) and the
    /// listeners they share.
    ///
    /// A listening socket is added to every thread's `epoll` set with `EPOLLEXCLUSIVE`: the kernel
    /// wakes one idle thread per new connection, so one descriptor per service port serves every
    /// core (the NIO engine opens a socket per loop with `SO_REUSEPORT` for the same effect).
    /// A connection stays on the thread that accepted it.
    final class RelayGroup: Sendable {
        private let loops: [RelayLoop]
        let statistics: RelayStatistics
        private let nextID = Atomic<Int>(0)
        private let stopped = Atomic<Bool>(false)

        /// Starts `threads` relay threads (at least one).
        init(threads: Int, logger: Logger) throws(RelayError) {
            let statistics = RelayStatistics()
            var loops: [RelayLoop] = []
            for index in 0..<max(1, threads) {
                let loop = try RelayLoop(index: index, group: statistics, logger: logger)
                loops.append(loop)
            }
            self.loops = loops
            self.statistics = statistics
            for (index, loop) in loops.enumerated() { try Self.start(loop, index: index) }
        }

        private static func start(_ loop: RelayLoop, index: Int) throws(RelayError) {
            let argument = Unmanaged.passRetained(RelayThreadStart(loop: loop, name: "kp-relay-\(index)")).toOpaque()
            var thread = pthread_t()
            let created = pthread_create(
                &thread, nil,
                { argument in
                    let start = Unmanaged<RelayThreadStart>.fromOpaque(argument!).takeRetainedValue()
                    _ = start.name.withCString { ckp_set_thread_name($0) }
                    start.loop.run()
                    return nil
                }, argument)
            guard created == 0 else {
                Unmanaged<RelayThreadStart>.fromOpaque(argument).release()
                throw RelayError(call: "pthread_create", errno: created)
            }
            pthread_detach(thread)
        }

        /// The number of relay threads.
        var threadCount: Int { loops.count }

        /// Starts accepting on `fd` in every thread; returns the id for `removeListener`.
        func addListener(fd: Int32, context: RelayListenerContext) -> Int {
            let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
            for loop in loops { loop.submit(.addListener(id: id, fd: fd, context: context)) }
            return id
        }

        /// Stops accepting on listener `id` in every thread; returns when none watches its socket
        /// any more, so the caller may close it.
        func removeListener(_ id: Int) async {
            await everyLoop { .removeListener(id: id, done: $0) }
        }

        /// Closes every relayed connection and refuses new ones.
        func closeAll() async {
            await everyLoop { .closeAll(done: $0) }
        }

        /// The descriptors of both sockets of every relaying connection, for reading their
        /// options in tests and diagnostics; they may close at any moment after.
        func socketDescriptors() async -> [Int32] {
            let collected = Mutex<[Int32]>([])
            await everyLoop { done in .sockets(report: { fds in collected.withLock { $0 += fds } }, done: done) }
            return collected.withLock { $0 }
        }

        /// `closeAll`, then ends the threads; later calls return at once.
        func shutdown() async {
            await closeAll()
            guard !stopped.exchange(true, ordering: .relaxed) else { return }
            for loop in loops { loop.submit(.stop) }
        }

        private func everyLoop(_ command: (RelayCountdown) -> RelayLoop.Command) async {
            guard !stopped.load(ordering: .relaxed) else { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let countdown = RelayCountdown(loops.count) { continuation.resume() }
                for loop in loops { loop.submit(command(countdown)) }
            }
        }
    }

    private final class RelayThreadStart {
        let loop: RelayLoop
        let name: String

        init(loop: RelayLoop, name: String) {
            self.loop = loop
            self.name = name
        }
    }

    /// A TCP service port served by the relay threads: one listening socket, watched by all.
    final class RelayTCPListener: ServicePortListener {
        let localPort: Int
        let balancer: ServiceBalancer
        private let fd: Int32
        private let id: Int
        private let group: RelayGroup
        private let closed = Atomic<Bool>(false)

        private init(localPort: Int, balancer: ServiceBalancer, fd: Int32, id: Int, group: RelayGroup) {
            self.localPort = localPort
            self.balancer = balancer
            self.fd = fd
            self.id = id
            self.group = group
        }

        /// Binds and listens on `address` (the bind error, e.g. `EADDRINUSE`, throws here) and
        /// hands the socket to every relay thread.
        static func open(
            address: SocketAddress, group: RelayGroup, context: RelayListenerContext, keepalive: TCPKeepalive
        ) throws -> RelayTCPListener {
            // Accepted sockets inherit keepalive and TCP_NODELAY from the listening socket.
            let options =
                [ListeningSocket.reuseAddress] + ListeningSocket.keepaliveOptions(keepalive) + [ListeningSocket.noDelay]
            let fd = try ListeningSocket.tcp(address: address, options: options, backlog: TCPListener.backlog)
            let port = RelaySystem.localPort(fd)
            let id = group.addListener(fd: fd, context: context)
            return RelayTCPListener(
                localPort: port == 0 ? address.port ?? 0 : port, balancer: context.balancer, fd: fd, id: id, group: group)
        }

        func close() async {
            guard !closed.exchange(true, ordering: .relaxed) else { return }
            await group.removeListener(id)
            Glibc.close(fd)
        }
    }

#endif
