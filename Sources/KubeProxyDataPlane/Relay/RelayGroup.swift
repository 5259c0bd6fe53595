import KubeProxyCore
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
    import CKubeProxyLinux
    import Glibc
#endif

/// Which engine relays the bytes of TCP service ports (`--userspace-tcp-relay`).
public enum TCPRelayEngine: String, Sendable, CaseIterable {
    /// The proxy's own `epoll` threads (`RelayGroup`): one registration per socket, no channel
    /// objects, busy ports listen on every thread (`SO_REUSEPORT`). Linux only.
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
    private let batching = Atomic<Int>(0)
    private let batchingError = Atomic<Int32>(0)
    private let batchingFailures = Atomic<Int>(0)

    func socketOpened() { sockets.wrappingAdd(1, ordering: .relaxed) }
    func socketClosed() { sockets.wrappingSubtract(1, ordering: .relaxed) }

    /// Open relayed sockets: two per connection, one (the client's) while its backend is being dialled.
    var openSockets: Int { sockets.load(ordering: .relaxed) }

    /// A relay thread set up its `io_uring` send batch.
    func batchingStarted() { batching.wrappingAdd(1, ordering: .relaxed) }

    /// Relay threads that batch their sends (`RelaySendBatch`); the rest send directly.
    var batchingThreads: Int { batching.load(ordering: .relaxed) }

    /// A relay thread could not set up its `io_uring` (`errno` of `io_uring_setup`).
    func batchingUnavailable(_ code: Int32) {
        batchingError.store(code, ordering: .relaxed)
        batchingFailures.wrappingAdd(1, ordering: .relaxed)
    }

    /// Relay threads that could not set up their `io_uring`.
    var batchingFailedThreads: Int { batchingFailures.load(ordering: .relaxed) }

    /// Why a relay thread sends directly, as an `errno`; 0 when none has failed to batch.
    var batchingErrno: Int32 { batchingError.load(ordering: .relaxed) }
}

#if canImport(Glibc)

    /// The relay threads of a userspace proxy (`RelayLoop`, one per core by default) and the
    /// listening sockets they watch.
    ///
    /// A TCP service port listens with one socket on its home thread; after its first accepted
    /// connection it opens one more socket per other thread on the same port (`SO_REUSEPORT`),
    /// so the kernel spreads a busy port's connections over every core while an idle port costs
    /// one descriptor (the NIO engine's `TCPListener` does the same with its event loops).
    /// A connection stays on the thread that accepted it.
    final class RelayGroup: Sendable {
        private let loops: [RelayLoop]
        let statistics: RelayStatistics
        /// How every listener of the group dials its backends.
        let dial: RelayDialSettings
        private let nextID = Atomic<Int>(0)

        /// Starts `threads` relay threads (at least one) that dial with `dial`; `batchSends`
        /// lets them send through `io_uring` where it is available (`RelaySendBatch`).
        init(threads: Int, dial: RelayDialSettings, batchSends: Bool = true, logger: Logger) throws(RelayError) {
            self.dial = dial
            let statistics = RelayStatistics()
            var loops: [RelayLoop] = []
            for index in 0..<max(1, threads) {
                let loop = try RelayLoop(index: index, group: statistics, batchSends: batchSends, logger: logger)
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

        /// A new listener id; its home thread is `home(of:)`.
        func makeListenerID() -> Int {
            nextID.wrappingAdd(1, ordering: .relaxed).newValue
        }

        /// The thread that watches the first socket of listener `id`: listeners spread evenly.
        func home(of id: Int) -> Int {
            id % loops.count
        }

        /// Starts accepting on `fd` in thread `thread`; `firstAccept` runs there after the
        /// socket's first accepted connection.
        func addListener(
            id: Int, fd: Int32, context: RelayListenerContext, thread: Int, firstAccept: (@Sendable () -> Void)? = nil
        ) {
            loops[thread].submit(.addListener(id: id, fd: fd, context: context, firstAccept: firstAccept))
        }

        /// Holds every thread's wake-ups (`RelayLoop.holdWakes`) until `releaseWakes`, so the
        /// commands of a burst of listeners are taken in one batch per thread. The caller must
        /// not wait on a command of this group in between: it would never run.
        func holdWakes() {
            for loop in loops { loop.holdWakes() }
        }

        /// Ends `holdWakes`; each thread with commands waiting is woken once.
        func releaseWakes() {
            for loop in loops { loop.releaseWakes() }
        }

        /// Stops accepting on socket `id` of thread `thread`; returns when that thread no longer
        /// watches it, so the caller may close it.
        func removeListener(_ id: Int, thread: Int) async {
            await run([loops[thread]]) { .removeListener(id: id, done: $0) }
        }

        /// Closes every relayed connection and refuses new ones.
        func closeAll() async {
            await run(loops) { .closeAll(done: $0) }
        }

        /// The descriptors of both sockets of every relaying connection, by relay thread, for
        /// reading their options in tests and diagnostics; they may close at any moment after.
        func socketDescriptorsPerThread() async -> [[Int32]] {
            let collected = Mutex<[[Int32]]>(Array(repeating: [], count: loops.count))
            await run(loops) { done in
                .sockets(report: { thread, fds in collected.withLock { $0[thread] += fds } }, done: done)
            }
            return collected.withLock { $0 }
        }

        /// `closeAll`, then ends the threads; later calls return at once (a stopped thread
        /// refuses commands, and a refused command counts as done).
        func shutdown() async {
            await closeAll()
            for loop in loops { loop.submit(.stop) }
        }

        private func run(_ targets: [RelayLoop], _ command: (RelayCountdown) -> RelayLoop.Command) async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let countdown = RelayCountdown(targets.count) { continuation.resume() }
                for loop in targets where !loop.submit(command(countdown)) { countdown.arrive() }
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

    /// A TCP service port served by the relay threads: a socket on its home thread, and after
    /// the first connection one per other thread (`SO_REUSEPORT`), within the descriptor budget.
    final class RelayTCPListener: ServicePortListener {
        let localPort: Int
        let balancer: ServiceBalancer

        private struct Socket {
            var fd: Int32
            var id: Int
            var thread: Int
        }

        private struct State {
            var sockets: [Socket]
            var siblingsOpened = false
            var closed = false
        }

        private let group: RelayGroup
        private let context: RelayListenerContext
        private let keepalive: TCPKeepalive
        private let state: Mutex<State>

        private init(
            localPort: Int, first: Socket, group: RelayGroup, context: RelayListenerContext, keepalive: TCPKeepalive
        ) {
            self.localPort = localPort
            self.balancer = context.balancer
            self.group = group
            self.context = context
            self.keepalive = keepalive
            self.state = Mutex(State(sockets: [first]))
        }

        /// Binds and listens on `address` (the bind error, e.g. `EADDRINUSE`, throws here) and
        /// hands the socket to its home thread.
        static func open(
            address: SocketAddress, group: RelayGroup, context: RelayListenerContext, keepalive: TCPKeepalive
        ) throws -> RelayTCPListener {
            let fd = try ListeningSocket.tcp(
                address: address, options: options(keepalive, reusePort: group.threadCount > 1),
                backlog: TCPListener.backlog)
            let port = RelaySystem.localPort(fd)
            let id = group.makeListenerID()
            let first = Socket(fd: fd, id: id, thread: group.home(of: id))
            let listener = RelayTCPListener(
                localPort: port == 0 ? address.port ?? 0 : port, first: first, group: group, context: context,
                keepalive: keepalive)
            var opener: (@Sendable () -> Void)?
            if group.threadCount > 1 {
                opener = { @Sendable [weak listener] in listener?.openSiblings() }
            }
            group.addListener(id: id, fd: fd, context: context, thread: first.thread, firstAccept: opener)
            return listener
        }

        /// Accepted sockets inherit keepalive and `TCP_NODELAY` from the listening socket.
        private static func options(_ keepalive: TCPKeepalive, reusePort: Bool) -> [ListeningSocket.Option] {
            var options = [ListeningSocket.reuseAddress]
            if reusePort { options.append(ListeningSocket.reusePort) }
            return options + ListeningSocket.keepaliveOptions(keepalive) + [ListeningSocket.noDelay]
        }

        /// One socket per other thread on this port, once, if the descriptor budget has room
        /// (`TCPListener.siblingLimit`); a sibling that fails to bind is simply not there.
        /// Runs on the home thread, after its first accept.
        private func openSiblings() {
            let budget = context.budget
            state.withLock { state in
                let home = state.sockets[0].thread
                let others = (0..<group.threadCount).filter { $0 != home }
                guard !state.closed, !state.siblingsOpened else { return }
                state.siblingsOpened = true
                guard let address = try? context.listenAddress.socketAddress(port: localPort),
                    budget.tryAcquire(others.count, within: TCPListener.siblingLimit(ceiling: budget.ceiling))
                else { return }
                for thread in others {
                    guard
                        let fd = try? ListeningSocket.tcp(
                            address: address, options: Self.options(keepalive, reusePort: true),
                            backlog: TCPListener.backlog)
                    else {
                        budget.release(1)
                        continue
                    }
                    let id = group.makeListenerID()
                    state.sockets.append(Socket(fd: fd, id: id, thread: thread))
                    group.addListener(id: id, fd: fd, context: context, thread: thread)
                }
            }
        }

        /// The number of open listening sockets of this port (1 before the first connection).
        var socketCount: Int {
            state.withLock { $0.sockets.count }
        }

        func close() async {
            let sockets = state.withLock { state -> [Socket] in
                guard !state.closed else { return [] }
                state.closed = true
                return state.sockets
            }
            // Siblings first, while the first socket still holds the port.
            for socket in sockets.reversed() {
                await group.removeListener(socket.id, thread: socket.thread)
                Glibc.close(socket.fd)
            }
            if sockets.count > 1 { context.budget.release(sockets.count - 1) }
        }
    }

#endif
