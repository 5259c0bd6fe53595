#if canImport(Glibc)
    import Glibc
    import CKubeProxyLinux
    import KubeProxyCore
    import Logging
    import NIOCore
    import Synchronization

    /// What one relay listener needs to serve a connection, shared by every relay thread.
    final class RelayListenerContext: Sendable {
        /// The service port, for logs.
        let name: ServicePortName
        /// The listener's bind address, for error context.
        let listenAddress: IPAddress
        /// The endpoint choice (a short lock, callable from any thread).
        let balancer: ServiceBalancer
        /// The listener's statistics.
        let counters: ListenerCounters
        /// The process's descriptors: a connection needs two.
        let budget: DescriptorBudget
        /// How backends are dialled (the proxy's, shared by every listener).
        let dial: RelayDialSettings
        /// Debug-level per-connection logging.
        let logger: Logger

        init(
            name: ServicePortName, listenAddress: IPAddress, balancer: ServiceBalancer, counters: ListenerCounters,
            budget: DescriptorBudget, dial: RelayDialSettings, logger: Logger
        ) {
            self.name = name
            self.listenAddress = listenAddress
            self.balancer = balancer
            self.counters = counters
            self.budget = budget
            self.dial = dial
            self.logger = logger
        }
    }

    /// The dial ladder and socket options of one proxy, worked out once (not per listener or
    /// per dial); the arrays are shared by every listener's context.
    struct RelayDialSettings: Sendable {
        /// One connect timeout per dial attempt, in nanoseconds; never empty.
        let timeouts: [UInt64]
        /// Set on every dialled socket before `connect`: `TCP_NODELAY` and the keepalive of
        /// `TCPKeepalive` (the accepted side inherits both from its listening socket), and
        /// `RelaySystem.deferHandshakeAck`.
        let options: [ListeningSocket.Option]

        init(timeouts: [TimeAmount], keepalive: TCPKeepalive) {
            let ladder = timeouts.map { UInt64(max(1, $0.nanoseconds)) }
            self.timeouts = ladder.isEmpty ? [250_000_000] : ladder
            self.options =
                [ListeningSocket.noDelay] + ListeningSocket.keepaliveOptions(keepalive) + [RelaySystem.deferHandshakeAck]
        }
    }

    /// Counts down the relay threads that still have to act on a command, then runs `done` once.
    final class RelayCountdown: Sendable {
        private let state: Mutex<(remaining: Int, done: (@Sendable () -> Void)?)>

        init(_ count: Int, done: @escaping @Sendable () -> Void) {
            state = Mutex((count, done))
        }

        /// One thread is done.
        func arrive() {
            let action = state.withLock { state -> (@Sendable () -> Void)? in
                state.remaining -= 1
                guard state.remaining <= 0, let done = state.done else { return nil }
                state.done = nil
                return done
            }
            action?()
        }
    }

    /// One relay thread: an `epoll` instance, its listeners' accepts and the connections it
    /// accepted, from accept to close, with no hop to another thread.
    ///
    /// Why not NIO (docs/dataplane-profile.md): a relayed connection needs accept, one
    /// non-blocking connect and two byte pumps. NIO gives each socket a channel, a pipeline, a
    /// promise per step and `epoll_ctl` re-registrations (34 system calls and about 200
    /// allocations per connection measured, against HAProxy's 19 calls); here each socket is
    /// registered once, edge-triggered, for everything it will ever report, the pumps read into
    /// one buffer per thread and write straight on, and a connection is one object.
    ///
    /// Threading: everything below the command queue is touched only by the loop's own thread
    /// (`run`); other threads talk to it through `submit`, which queues a command and wakes the
    /// loop through its `eventfd`. Hence `@unchecked Sendable`.
    final class RelayLoop: @unchecked Sendable {
        enum Command {
            /// Start accepting on `fd` for `context`; `firstAccept` runs on this loop after the
            /// socket's first accepted connection.
            case addListener(id: Int, fd: Int32, context: RelayListenerContext, firstAccept: (@Sendable () -> Void)?)
            /// Stop accepting on the listener; established connections go on.
            case removeListener(id: Int, done: RelayCountdown)
            /// Close every connection and refuse new ones.
            case closeAll(done: RelayCountdown)
            /// Report the descriptors of every relaying connection (diagnostics and tests).
            case sockets(report: @Sendable (_ thread: Int, _ descriptors: [Int32]) -> Void, done: RelayCountdown)
            /// Leave the loop (after `closeAll`).
            case stop
        }

        private let index: Int
        private let group: RelayStatistics
        private let epollFD: Int32
        private let wakeFD: Int32
        /// Commands for the loop; `closed` once it has left `run`, after which nothing is queued.
        /// While `held` is above 0 commands queue without waking the loop (`holdWakes`).
        private let commands = Mutex<(queue: [Command], closed: Bool, held: Int)>(([], false, 0))
        private let logger: Logger

        // Loop-thread state.
        private var connections = RelaySlotTable<RelayConnection>()
        private var acceptors = RelaySlotTable<RelayAcceptor>()
        /// Listener id → its acceptor, for `removeListener`.
        private var listeners: [Int: RelayAcceptor] = [:]
        private var timers: [RelayTimerQueue] = []
        private var again: [(slot: Int32, generation: UInt32, side: RelayConnection.Side)] = []
        private var refusing = false
        private var stopping = false
        private let buffer: UnsafeMutableRawBufferPointer
        /// Whether to send short writes in batches (`RelaySendBatch`); tests turn it off to
        /// cover the direct path, which is also the fallback where `io_uring` is unavailable.
        private let batchSends: Bool
        /// Made on the loop's thread when `run` starts; `nil` means every send is direct.
        private var batch: RelaySendBatch?
        /// The connections a flush closes (`flushBatch`), kept between passes.
        private var closingScratch: [RelayConnection] = []

        /// Bytes read per `read` call: large enough that bulk transfers take few calls, small
        /// enough for the CPU cache.
        static let bufferSize = 64 * 1024
        /// Reads of one side per wake-up before other connections get a turn.
        static let readsPerTurn = 16
        /// How long a listener stops accepting after a resource error (`AcceptBackoff.delay`).
        static let acceptBackoffNanoseconds: UInt64 = 100_000_000

        init(index: Int, group: RelayStatistics, batchSends: Bool = true, logger: Logger) throws(RelayError) {
            self.index = index
            self.batchSends = batchSends
            self.group = group
            self.logger = logger
            let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
            guard epollFD >= 0 else { throw RelayError(call: "epoll_create1", errno: errno) }
            let wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
            guard wakeFD >= 0 else {
                let code = errno
                Glibc.close(epollFD)
                throw RelayError(call: "eventfd", errno: code)
            }
            var event = epoll_event()
            ckp_epoll_event_set(&event, EpollBits.readable, RelayToken.wake)
            // Before every stored property is set: a throw after that would run `deinit`, which
            // closes and frees the same resources again.
            guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
                let code = errno
                Glibc.close(wakeFD)
                Glibc.close(epollFD)
                throw RelayError(call: "epoll_ctl(eventfd)", errno: code)
            }
            self.epollFD = epollFD
            self.wakeFD = wakeFD
            self.buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
        }

        /// Queues `command` for the loop and wakes it; callable from any thread. `false` when
        /// the loop has stopped and will never run it.
        @discardableResult
        func submit(_ command: Command) -> Bool {
            let (queued, wake) = commands.withLock { state -> (Bool, Bool) in
                guard !state.closed else { return (false, false) }
                state.queue.append(command)
                return (true, state.queue.count == 1 && state.held == 0)
            }
            guard queued else { return false }
            // One wake-up per batch: the loop reads the eventfd before it takes the queue, so a
            // command added to a non-empty queue is taken with the ones before it (10,000
            // listeners opened at start-up were 10,000 writes and as many wake-ups).
            if wake { self.wake() }
            return true
        }

        /// Lets commands queue without waking the loop until the matching `releaseWakes`, for a
        /// burst from one caller: the loop otherwise drains each command as it comes, so every
        /// one of 10,000 listeners opened at start-up cost an `eventfd` write and a wake-up.
        func holdWakes() {
            commands.withLock { $0.held += 1 }
        }

        /// Ends one `holdWakes`; the last one wakes the loop once if commands are waiting.
        func releaseWakes() {
            let wake = commands.withLock { state -> Bool in
                state.held -= 1
                return state.held == 0 && !state.queue.isEmpty && !state.closed
            }
            if wake { self.wake() }
        }

        /// The descriptor stays open until `deinit`, so a late wake-up never hits a reused number.
        private func wake() {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }

        deinit {
            Glibc.close(wakeFD)
            Glibc.close(epollFD)
            buffer.deallocate()
        }

        /// The loop; returns after `.stop`. Runs on the loop's own thread.
        func run() {
            let capacity = 256
            let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
            defer { events.deallocate() }
            if batchSends {
                switch RelaySendBatch.make(entries: capacity, readSize: Self.bufferSize, logger: logger) {
                case .success(let made):
                    batch = made
                    group.batchingStarted()
                case .failure(let error):
                    group.batchingUnavailable(error.errno)
                }
            }
            while !stopping {
                let count = epoll_wait(epollFD, events, Int32(capacity), waitTimeout())
                if count < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    // Cannot happen with a valid set; if it does, do not spin a core logging it.
                    logger.error("relay epoll_wait failed", metadata: ["error": "\(RelaySystem.describe(code))"])
                    usleep(100_000)
                    continue
                }
                for position in 0..<Int(count) {
                    let event = events + position
                    dispatch(ckp_epoll_event_data(event), ckp_epoll_event_events(event))
                }
                // This pass's writes go out before the bulk reads of `runAgain`, and everything
                // queued (closes by timers included) before the thread sleeps again.
                flushBatch()
                if !again.isEmpty { runAgain() }
                if timers.contains(where: { $0.first != nil }) { runTimers(now: RelaySystem.now()) }
                flushBatch()
            }
            teardown()
        }

        // MARK: - Events

        private func dispatch(_ token: UInt64, _ events: UInt32) {
            switch RelayToken.kind(token) {
            case RelayToken.wakeKind:
                drainCommands()
            case RelayToken.listenerKind:
                guard let acceptor = acceptors[RelayToken.slot(token), RelayToken.generation(token)] else { return }
                accept(acceptor)
            default:
                guard let connection = connection(token) else { return }
                let side: RelayConnection.Side = RelayToken.kind(token) == RelayToken.clientKind ? .client : .backend
                handle(connection, side: side, events: events)
            }
        }

        private func connection(_ token: UInt64) -> RelayConnection? {
            connections[RelayToken.slot(token), RelayToken.generation(token)]
        }

        private func handle(_ connection: RelayConnection, side: RelayConnection.Side, events: UInt32) {
            // Remembered, not just passed on: the edge is reported once, and a pump stalled by its
            // partner may only read the end of stream long after this wake-up.
            if events & (EpollBits.readHangUp | EpollBits.hangUp | EpollBits.error) != 0 {
                connection.markHungUp(side)
            }
            switch connection.phase {
            case .dialing:
                if side == .client {
                    // The client's bytes wait for the backend; a full hang-up or error ends it.
                    if events & (EpollBits.hangUp | EpollBits.error) != 0 { close(connection) }
                    return
                }
                if events & (EpollBits.error | EpollBits.hangUp) != 0 {
                    dialFailed(connection, error: RelaySystem.describe(RelaySystem.socketError(connection.backendFD)))
                } else if events & EpollBits.writable != 0 {
                    connected(connection, backendReadable: events & EpollBits.readable != 0)
                }
            case .relaying:
                if events & (EpollBits.readable | EpollBits.readHangUp | EpollBits.hangUp | EpollBits.error) != 0 {
                    pump(connection, from: side)
                    guard connection.phase == .relaying else { return }
                }
                // Every wake-up of a writable socket reports EPOLLOUT too; it matters only when
                // bytes wait for this side (its partner's reads are paused until they are out).
                if events & EpollBits.writable != 0, connection.hasPending(from: side.partner) {
                    pump(connection, from: side.partner)
                }
            case .closed:
                return
            }
        }

        // MARK: - Accept

        private func accept(_ acceptor: RelayAcceptor) {
            let context = acceptor.context
            for _ in 0..<16 {
                var address = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let fd = withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        ckp_accept4(acceptor.fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                    }
                }
                if fd < 0 {
                    let code = errno
                    switch code {
                    case EAGAIN, EWOULDBLOCK:
                        return
                    case EINTR, ECONNABORTED, EPROTO:
                        continue
                    default:
                        // EMFILE, ENFILE, ENOBUFS, ENOMEM: the queued client stays queued, and a
                        // level-triggered listener would wake us again at once; pause it instead.
                        pause(acceptor)
                        logger.debug(
                            "relay accept failed; pausing the listener",
                            metadata: ["service": "\(context.name)", "error": "\(RelaySystem.describe(code))"])
                        return
                    }
                }
                guard !refusing, context.budget.tryAcquire(2) else {
                    if !refusing { refuse(context) }
                    Glibc.close(fd)
                    continue
                }
                if let first = acceptor.firstAccept {
                    acceptor.firstAccept = nil
                    first()
                }
                context.counters.connectionAccepted()
                group.socketOpened()
                let connection = makeConnection(clientFD: fd, context: context, clientIP: RelaySystem.ipAddress(&address))
                var event = epoll_event()
                // Edge-triggered, for everything the socket will report: one epoll_ctl per socket.
                ckp_epoll_event_set(
                    &event, EpollBits.readable | EpollBits.writable | EpollBits.readHangUp | EpollBits.edgeTriggered,
                    RelayToken.make(RelayToken.clientKind, connection.slot, connection.generation))
                guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
                    close(connection)
                    continue
                }
                dial(connection)
            }
        }

        private func refuse(_ context: RelayListenerContext) {
            context.counters.connectFailed()
            let budget = context.budget
            if budget.shouldWarn(nowNanoseconds: Int64(RelaySystem.now())) {
                logger.warning(
                    "descriptor reserve reached; closing new connections at once",
                    metadata: [
                        "service": "\(context.name)", "inUse": "\(budget.inUse)", "ceiling": "\(budget.ceiling)",
                        "limit": "\(budget.limit)",
                    ])
            }
        }

        private func pause(_ acceptor: RelayAcceptor) {
            guard acceptor.registered else { return }
            epoll_ctl(epollFD, EPOLL_CTL_DEL, acceptor.fd, nil)
            acceptor.registered = false
            schedule(
                after: Self.acceptBackoffNanoseconds, slot: acceptor.slot, generation: acceptor.generation,
                tag: RelayTimerQueue.resumeListenerTag)
        }

        private func register(_ acceptor: RelayAcceptor) -> Bool {
            var event = epoll_event()
            ckp_epoll_event_set(
                &event, EpollBits.readable,
                RelayToken.make(RelayToken.listenerKind, acceptor.slot, acceptor.generation))
            guard epoll_ctl(epollFD, EPOLL_CTL_ADD, acceptor.fd, &event) == 0 else { return false }
            acceptor.registered = true
            return true
        }

        // MARK: - Dial

        private func dial(_ connection: RelayConnection) {
            let context = connection.context
            let attempt = connection.attempt
            if attempt > 0 { context.counters.connectRetried() }
            guard let endpoint = context.balancer.choose(clientIP: connection.clientIP, resetAffinity: attempt > 0) else {
                fail(connection, .noEndpoints)
                return
            }
            connection.endpoint = endpoint
            let fd = RelaySystem.tcpSocket(endpoint.ip.family)
            guard fd >= 0 else {
                dialFailed(connection, error: "socket: \(RelaySystem.describe(-fd))")
                return
            }
            connection.backendFD = fd
            for option in context.dial.options { RelaySystem.setOption(fd, option) }
            let code = RelaySystem.connect(fd, to: endpoint)
            guard code == 0 || code == EINPROGRESS else {
                dialFailed(connection, error: "connect: \(RelaySystem.describe(code))")
                return
            }
            var event = epoll_event()
            ckp_epoll_event_set(
                &event, EpollBits.readable | EpollBits.writable | EpollBits.readHangUp | EpollBits.edgeTriggered,
                RelayToken.make(RelayToken.backendKind, connection.slot, connection.generation))
            guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
                dialFailed(connection, error: "epoll_ctl: \(RelaySystem.describe(errno))")
                return
            }
            // An immediate connect still reports EPOLLOUT once, which `handle` takes as connected.
            schedule(
                after: context.dial.timeouts[attempt], slot: connection.slot, generation: connection.generation,
                tag: attempt)
        }

        private func dialFailed(_ connection: RelayConnection, error: String) {
            if connection.backendFD >= 0 {
                Glibc.close(connection.backendFD)
                connection.backendFD = -1
            }
            let context = connection.context
            let attempt = connection.attempt
            context.logger.debug(
                "dial failed",
                metadata: [
                    "service": "\(context.name)", "endpoint": "\(connection.endpoint.map { "\($0)" } ?? "-")",
                    "attempt": "\(attempt + 1)", "error": "\(error)",
                ])
            if attempt + 1 < context.dial.timeouts.count {
                connection.attempt = attempt + 1
                dial(connection)
            } else {
                fail(connection, .dialsExhausted(attempts: attempt + 1, lastError: error))
            }
        }

        private func connected(_ connection: RelayConnection, backendReadable: Bool) {
            connection.phase = .relaying
            // Counted from here, as the NIO engine counts a backend channel once it is connected.
            group.socketOpened()
            // The client's readiness edge may have passed while we dialled: read it now, to the
            // end of the stream if it hung up meanwhile. Its first bytes carry the handshake's
            // last ACK, which the kernel held back (`RelaySystem.deferHandshakeAck`); a client
            // that has sent nothing yet (a server-first protocol) must not leave the backend
            // waiting for the delayed-ACK timer, so the ACK goes out now.
            let relayed = pump(connection, from: .client)
            if connection.phase == .relaying, relayed == 0 {
                RelaySystem.sendAckNow(connection.backendFD)
            }
            if connection.phase == .relaying, backendReadable || connection.hasHungUp(.backend) {
                pump(connection, from: .backend)
            }
        }

        private func fail(_ connection: RelayConnection, _ kind: DataPlaneError.Kind) {
            let context = connection.context
            context.counters.connectFailed()
            let error = DataPlaneError(name: context.name, address: context.listenAddress, kind: kind)
            context.logger.debug(
                "closing client connection",
                metadata: ["client": "\(connection.clientIP.map { "\($0)" } ?? "?")", "error": "\(error)"])
            close(connection)
        }

        // MARK: - Relay

        /// Moves bytes from `side` to its partner: first what is still waiting for the partner,
        /// then fresh reads, until `side` has nothing more (`EAGAIN`), the partner cannot take more
        /// (the rest waits in the connection for its `EPOLLOUT`), or either side ends; an end
        /// closes both sockets once the bytes read before it are delivered (upstream's copy loop,
        /// docs/userspace-behaviour.md#tcp-relay: no half-close).
        ///
        /// A short read means drained (every later arrival raises a new edge), unless `side` has
        /// reported an end or error at any time: then it is read to `EAGAIN` or the end of stream,
        /// because that edge will not come again. Returns the bytes read from `side` (sent,
        /// queued, or waiting for the target).
        @discardableResult
        private func pump(_ connection: RelayConnection, from side: RelayConnection.Side) -> Int {
            let source = side == .client ? connection.clientFD : connection.backendFD
            let target = side == .client ? connection.backendFD : connection.clientFD
            let direction: ListenerCounters.Direction = side == .client ? .clientToBackend : .backendToClient
            // Bytes of this direction still queued in the batch go first (and may come back as
            // waiting bytes, handled next).
            if connection.isQueued(side) {
                flushBatch()
                guard connection.phase == .relaying else { return 0 }
            }
            // The common case has nothing waiting; skip the flush and its exclusive accesses.
            if connection.hasPending(from: side), !connection.flushPending(side, to: target) {
                if connection.pendingFailed { close(connection) }
                return 0
            }
            var relayed = 0
            defer { connection.context.counters.relayed(direction, bytes: relayed) }
            for _ in 0..<Self.readsPerTurn {
                var batched = false
                if let batch, !batch.disabled {
                    if !batch.hasRoom {
                        flushBatch()
                        guard connection.phase == .relaying else { return relayed }
                    }
                    batched = batch.hasRoom
                }
                let base = batched ? batch!.readPointer : buffer.baseAddress!
                // `recv`, not `read`: `read` goes through the VFS layer first (access checks, an
                // `fsnotify` call), which a socket does not need; HAProxy uses `recv` too.
                var count = recv(source, base, Self.bufferSize, 0)
                if count > 0 {
                    relayed += count
                    // Whether these bytes are the last: the side has ended and a second read
                    // finds the end of stream. Then they go out with `MSG_MORE` and the close
                    // follows at once, so its FIN rides on their segment (`RelaySendBatch`).
                    var ended = false
                    if count < Self.bufferSize && connection.hasHungUp(side) {
                        // This side has ended: read on, its edge will not come again.
                        let more = recv(source, base + count, Self.bufferSize - count, 0)
                        if more == 0 {
                            ended = true
                        } else if more > 0 {
                            relayed += more
                            count += more
                        }
                    }
                    if batched && count < Self.bufferSize && (ended || !connection.hasHungUp(side)) {
                        // Drained (or ended): send with the rest of this pass's writes; an
                        // ended connection closes once they are all out.
                        batch!.queue(
                            fd: target, length: count, slot: connection.slot, generation: connection.generation,
                            side: side, thenClose: ended)
                        connection.setQueued(side, true)
                        return relayed
                    }
                    let flags = Int32(MSG_NOSIGNAL) | (ended ? Int32(MSG_MORE) : 0)
                    var written = 0
                    while written < count {
                        let sent = send(target, base + written, count - written, flags)
                        if sent > 0 {
                            written += sent
                        } else if sent < 0 && errno == EINTR {
                            continue
                        } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                            break
                        } else {
                            close(connection)
                            return relayed
                        }
                    }
                    if written < count {
                        // The rest goes out without `MSG_MORE` on `EPOLLOUT`; the end is read
                        // again after it (an end of stream stays readable).
                        connection.keepPending(side, UnsafeRawBufferPointer(start: base + written, count: count - written))
                        return relayed
                    }
                    if ended {
                        close(connection)
                        return relayed
                    }
                    if count < Self.bufferSize && !connection.hasHungUp(side) { return relayed }
                    continue
                }
                if count == 0 {
                    close(connection)
                    return relayed
                }
                switch errno {
                case EAGAIN, EWOULDBLOCK: return relayed
                case EINTR: continue
                default:
                    close(connection)
                    return relayed
                }
            }
            // Still more to read: give other connections their turn first.
            again.append((connection.slot, connection.generation, side))
            return relayed
        }

        private func runAgain() {
            let batch = again
            again.removeAll(keepingCapacity: true)
            for entry in batch {
                guard let connection = connections[entry.slot, entry.generation], connection.phase == .relaying
                else { continue }
                pump(connection, from: entry.side)
            }
        }

        /// Closes a relayed socket through the batch, behind the sends queued for it (which a
        /// direct `close` would turn into sends to a closed, or reused, descriptor number).
        private func closeDescriptor(_ fd: Int32) {
            guard let batch, !batch.disabled else {
                Glibc.close(fd)
                return
            }
            if !batch.hasEntryRoom { flushBatch() }
            if batch.hasEntryRoom {
                batch.queueClose(fd)
            } else {
                Glibc.close(fd)
            }
        }

        /// Sends what the batch holds; bytes a socket could not take wait in their connection
        /// for its `EPOLLOUT`, and a send that failed, or that carried the last bytes before
        /// an end, closes its connection.
        private func flushBatch() {
            guard let batch else { return }
            // Closing a connection queues its closes: run those too.
            while !batch.isEmpty {
                // Reused, so a pass that closes connections allocates nothing for the list (a
                // nested flush, from a close that found the ring full, gets a fresh one).
                var closing = closingScratch
                closingScratch = []
                defer {
                    closing.removeAll(keepingCapacity: true)
                    closingScratch = closing
                }
                batch.submit { entry, result, bytes in
                    guard let connection = connections[entry.slot, entry.generation], connection.phase == .relaying
                    else { return }
                    connection.setQueued(entry.side, false)
                    guard result < entry.length else {
                        // The last bytes before an end are out: the connection ends.
                        if entry.thenClose { closing.append(connection) }
                        return
                    }
                    if result >= 0 || result == -Int(EAGAIN) || result == -Int(EWOULDBLOCK) || result == -Int(EINTR) {
                        // The rest waits for `EPOLLOUT`; a side that ended is read to its end
                        // again after that, and the connection closes then.
                        connection.keepPending(entry.side, UnsafeRawBufferPointer(rebasing: bytes[max(0, result)...]))
                    } else {
                        closing.append(connection)
                    }
                }
                for connection in closing { close(connection) }
            }
        }

        // MARK: - Connections

        private func makeConnection(clientFD: Int32, context: RelayListenerContext, clientIP: IPAddress?) -> RelayConnection {
            connections.insert { slot, generation in
                RelayConnection(slot: slot, generation: generation, clientFD: clientFD, context: context, clientIP: clientIP)
            }
        }

        /// Closes both sockets (closing a descriptor also leaves the epoll set) and forgets the
        /// connection; later events and timers for its slot see another generation.
        private func close(_ connection: RelayConnection) {
            guard connection.phase != .closed else { return }
            let wasRelaying = connection.phase == .relaying
            connection.phase = .closed
            closeDescriptor(connection.clientFD)
            group.socketClosed()
            if connection.backendFD >= 0 {
                closeDescriptor(connection.backendFD)
                connection.backendFD = -1
                if wasRelaying { group.socketClosed() }
            }
            connection.context.counters.connectionClosed()
            connection.context.budget.release(2)
            connections.remove(connection.slot)
        }

        // MARK: - Timers

        private func schedule(after delay: UInt64, slot: Int32, generation: UInt32, tag: Int) {
            let entry = RelayTimerQueue.Entry(
                deadline: RelaySystem.now() &+ delay, slot: slot, generation: generation, tag: tag)
            if let queue = timers.first(where: { $0.delay == delay }) {
                queue.append(entry)
            } else {
                let queue = RelayTimerQueue(delay: delay)
                queue.append(entry)
                timers.append(queue)
            }
        }

        private func waitTimeout() -> Int32 {
            if !again.isEmpty { return 0 }
            var earliest = UInt64.max
            for queue in timers {
                if let deadline = queue.first?.deadline, deadline < earliest { earliest = deadline }
            }
            guard earliest != .max else { return -1 }
            let now = RelaySystem.now()
            guard earliest > now else { return 0 }
            // Round up so the loop never wakes just before a deadline and spins.
            return Int32(clamping: (earliest - now + 999_999) / 1_000_000)
        }

        private func runTimers(now: UInt64) {
            for queue in timers {
                while let entry = queue.first, entry.deadline <= now {
                    queue.removeFirst()
                    fire(entry)
                }
            }
        }

        private func fire(_ entry: RelayTimerQueue.Entry) {
            if entry.tag == RelayTimerQueue.resumeListenerTag {
                guard let acceptor = acceptors[entry.slot, entry.generation], !acceptor.registered else { return }
                if !register(acceptor) {
                    schedule(
                        after: Self.acceptBackoffNanoseconds, slot: entry.slot, generation: entry.generation,
                        tag: RelayTimerQueue.resumeListenerTag)
                }
                return
            }
            guard let connection = connections[entry.slot, entry.generation], connection.phase == .dialing,
                connection.attempt == entry.tag
            else { return }
            let timeout = connection.context.dial.timeouts[entry.tag]
            dialFailed(connection, error: "connect timed out after \(timeout / 1_000_000) ms")
        }

        // MARK: - Commands

        private func drainCommands() {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
            let pending = commands.withLock { state -> [Command] in
                defer { state.queue.removeAll(keepingCapacity: true) }
                return state.queue
            }
            for command in pending {
                switch command {
                case .addListener(let id, let fd, let context, let firstAccept):
                    let acceptor = acceptors.insert { slot, generation in
                        RelayAcceptor(
                            id: id, fd: fd, slot: slot, generation: generation, context: context, firstAccept: firstAccept)
                    }
                    listeners[id] = acceptor
                    if !register(acceptor) {
                        logger.warning(
                            "relay cannot watch a listening socket",
                            metadata: ["service": "\(context.name)", "error": "\(RelaySystem.describe(errno))"])
                    }
                case .removeListener(let id, let done):
                    if let acceptor = listeners.removeValue(forKey: id) {
                        if acceptor.registered { epoll_ctl(epollFD, EPOLL_CTL_DEL, acceptor.fd, nil) }
                        acceptors.remove(acceptor.slot)
                    }
                    done.arrive()
                case .closeAll(let done):
                    refusing = true
                    for connection in connections.all { close(connection) }
                    done.arrive()
                case .sockets(let report, let done):
                    var descriptors: [Int32] = []
                    for connection in connections.all where connection.phase == .relaying {
                        descriptors += [connection.clientFD, connection.backendFD]
                    }
                    report(index, descriptors)
                    done.arrive()
                case .stop:
                    stopping = true
                }
            }
        }

        private func teardown() {
            for connection in connections.all { close(connection) }
            flushBatch()
            for acceptor in listeners.values where acceptor.registered {
                epoll_ctl(epollFD, EPOLL_CTL_DEL, acceptor.fd, nil)
            }
            listeners = [:]
            acceptors = RelaySlotTable()
            // Whoever waits on a command queued after `.stop` is released, not left hanging.
            let late = commands.withLock { state -> [Command] in
                state.closed = true
                defer { state.queue = [] }
                return state.queue
            }
            for command in late {
                switch command {
                case .removeListener(_, let done), .closeAll(let done): done.arrive()
                case .sockets(let report, let done):
                    report(index, [])
                    done.arrive()
                case .addListener, .stop: break
                }
            }
        }
    }

    /// One relay thread's registration of a listening socket.
    final class RelayAcceptor {
        let id: Int
        let fd: Int32
        let slot: Int32
        let generation: UInt32
        let context: RelayListenerContext
        /// In the epoll set (not paused after a resource error).
        var registered = false
        /// Run once, after the first accepted connection (the listener opens its siblings).
        var firstAccept: (@Sendable () -> Void)?

        init(
            id: Int, fd: Int32, slot: Int32, generation: UInt32, context: RelayListenerContext,
            firstAccept: (@Sendable () -> Void)?
        ) {
            self.id = id
            self.fd = fd
            self.slot = slot
            self.generation = generation
            self.context = context
            self.firstAccept = firstAccept
        }
    }

    /// Objects of one kind by slot, with a generation per slot that changes when the slot is
    /// freed: an `epoll` event or timer that names a slot and an older generation finds nothing,
    /// even after the slot was reused. Slots are reused, so the table never grows past the
    /// most objects alive at once.
    struct RelaySlotTable<Element: AnyObject> {
        private var elements: [Element?] = []
        private var generations: [UInt32] = []
        private var free: [Int32] = []

        /// Stores the element `make` builds for a free slot and its generation; returns it.
        @discardableResult
        mutating func insert(_ make: (_ slot: Int32, _ generation: UInt32) -> Element) -> Element {
            let slot: Int32
            if let reused = free.popLast() {
                slot = reused
            } else {
                slot = Int32(elements.count)
                elements.append(nil)
                generations.append(0)
            }
            let element = make(slot, generations[Int(slot)])
            elements[Int(slot)] = element
            return element
        }

        /// The element in `slot` if it is still of `generation`.
        subscript(slot: Int32, generation: UInt32) -> Element? {
            let index = Int(slot)
            guard index >= 0, index < elements.count, generations[index] == generation else { return nil }
            return elements[index]
        }

        /// Frees `slot`; its generation moves on.
        mutating func remove(_ slot: Int32) {
            let index = Int(slot)
            elements[index] = nil
            generations[index] = (generations[index] &+ 1) & RelayToken.generationMask
            free.append(slot)
        }

        /// Every stored element (a copy: the caller may remove while walking it).
        var all: [Element] { elements.compactMap { $0 } }
    }

    /// One relayed connection: the client socket, the backend socket once dialled, and the bytes
    /// a side could not take yet.
    final class RelayConnection {
        enum Side {
            case client
            case backend

            var partner: Side { self == .client ? .backend : .client }
        }

        enum Phase {
            case dialing
            case relaying
            case closed
        }

        let slot: Int32
        let generation: UInt32
        let clientFD: Int32
        var backendFD: Int32 = -1
        let context: RelayListenerContext
        let clientIP: IPAddress?
        var endpoint: EndpointAddress?
        var attempt = 0
        var phase = Phase.dialing
        /// The client, or the backend, has reported an end or error (`EPOLLRDHUP`, `EPOLLHUP`,
        /// `EPOLLERR`) at some time.
        private var clientHungUp = false
        private var backendHungUp = false
        /// A write of waiting bytes failed with something other than `EAGAIN`.
        var pendingFailed = false
        /// Bytes read from the client (or the backend) wait in the loop's send batch.
        private var clientQueued = false
        private var backendQueued = false
        /// Bytes read from the client that the backend could not take yet, and the reverse;
        /// allocated only when a write comes up short.
        private var towardBackend: [UInt8] = []
        private var towardBackendOffset = 0
        private var towardClient: [UInt8] = []
        private var towardClientOffset = 0

        init(slot: Int32, generation: UInt32, clientFD: Int32, context: RelayListenerContext, clientIP: IPAddress?) {
            self.slot = slot
            self.generation = generation
            self.clientFD = clientFD
            self.context = context
            self.clientIP = clientIP
        }

        /// Remembers `bytes` read from `side` for its partner.
        func keepPending(_ side: Side, _ bytes: UnsafeRawBufferPointer) {
            if side == .client {
                towardBackend = Array(bytes)
                towardBackendOffset = 0
            } else {
                towardClient = Array(bytes)
                towardClientOffset = 0
            }
        }

        /// Whether bytes read from `side` wait in the loop's send batch.
        func isQueued(_ side: Side) -> Bool {
            side == .client ? clientQueued : backendQueued
        }

        func setQueued(_ side: Side, _ queued: Bool) {
            if side == .client { clientQueued = queued } else { backendQueued = queued }
        }

        /// Records that `side` reported an end or error.
        func markHungUp(_ side: Side) {
            if side == .client { clientHungUp = true } else { backendHungUp = true }
        }

        /// Whether `side` has reported an end or error.
        func hasHungUp(_ side: Side) -> Bool {
            side == .client ? clientHungUp : backendHungUp
        }

        /// Whether bytes read from `side` still wait for its partner.
        func hasPending(from side: Side) -> Bool {
            side == .client ? towardBackendOffset < towardBackend.count : towardClientOffset < towardClient.count
        }

        /// Writes the bytes waiting from `side` to `target`; `true` when none are left.
        func flushPending(_ side: Side, to target: Int32) -> Bool {
            if side == .client {
                return flush(&towardBackend, &towardBackendOffset, to: target)
            }
            return flush(&towardClient, &towardClientOffset, to: target)
        }

        private func flush(_ bytes: inout [UInt8], _ offset: inout Int, to target: Int32) -> Bool {
            while offset < bytes.count {
                let sent = bytes.withUnsafeBytes { buffer in
                    send(target, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                }
                if sent > 0 {
                    offset += sent
                    continue
                }
                if sent < 0 && errno == EINTR { continue }
                if !(sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { pendingFailed = true }
                return false
            }
            if !bytes.isEmpty {
                bytes = []
                offset = 0
            }
            return true
        }
    }

    /// The 64-bit `epoll` data of a registration: kind (2 bits), generation (30 bits), slot.
    enum RelayToken {
        static let wakeKind: UInt64 = 0
        static let listenerKind: UInt64 = 1
        static let clientKind: UInt64 = 2
        static let backendKind: UInt64 = 3
        static let generationMask: UInt32 = (1 << 30) - 1
        static let wake: UInt64 = 0

        static func make(_ kind: UInt64, _ slot: Int32, _ generation: UInt32) -> UInt64 {
            kind << 62 | UInt64(generation & generationMask) << 32 | UInt64(UInt32(bitPattern: slot))
        }

        static func kind(_ token: UInt64) -> UInt64 { token >> 62 }
        static func slot(_ token: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: token)) }
        static func generation(_ token: UInt64) -> UInt32 {
            UInt32(truncatingIfNeeded: token >> 32) & generationMask
        }
    }

    /// Timers of one fixed delay: entries are appended in deadline order, so a FIFO is a
    /// priority queue, and cancelling is free (a fired entry whose connection moved on is ignored).
    final class RelayTimerQueue {
        struct Entry {
            var deadline: UInt64
            var slot: Int32
            var generation: UInt32
            /// The dial attempt, or `resumeListenerTag`.
            var tag: Int
        }

        static let resumeListenerTag = -1

        let delay: UInt64
        private var entries: [Entry] = []
        private var head = 0

        init(delay: UInt64) {
            self.delay = delay
        }

        var first: Entry? { head < entries.count ? entries[head] : nil }

        func append(_ entry: Entry) { entries.append(entry) }

        func removeFirst() {
            head += 1
            if head == entries.count {
                entries.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }
    }

    /// A system call of the relay that failed.
    struct RelayError: Error, CustomStringConvertible {
        var call: String
        var errno: Int32

        var description: String { "\(call): \(RelaySystem.describe(errno))" }
    }
#endif
