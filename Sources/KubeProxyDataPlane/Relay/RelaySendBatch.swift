#if canImport(Glibc)
    import Glibc
    import CKubeProxyLinux
    import Logging

    /// The short writes (and the closes) of one pass over `epoll`'s events, made together with
    /// one `io_uring_enter` instead of one system call each.
    ///
    /// Why (docs/dataplane-profile.md, "Eighth pass"): every `send` on loopback wakes the peer
    /// that reads it, and the scheduler often marks the relay thread to be preempted by it;
    /// with one `send` per system call the thread was switched out on the way back from about
    /// one send in six (0.3 involuntary context switches per keep-alive request, measured). Sends
    /// made inside one system call are all done before the thread returns to user space, so a
    /// pass over many connections costs one switch instead of many. Closes wake peers too (the
    /// FIN), so they ride along; entries run in queue order, so a connection's last bytes go
    /// out before its sockets close, and a closed descriptor's number cannot be reused by the
    /// thread before the sends queued for it have run.
    ///
    /// A relay thread reads a connection's bytes into the batch's arena, queues the send and
    /// goes on; `submit` sends everything queued and reports each send's result. Every send
    /// carries `MSG_DONTWAIT`, so one that would block completes at once with `EAGAIN` (and the
    /// socket raises `EPOLLOUT` when it has room, as after a plain `send`): when `submit`
    /// returns, the kernel is done with every byte of the arena.
    ///
    /// Where `io_uring` cannot be set up (an older kernel, `kernel.io_uring_disabled`, a
    /// container's seccomp profile), `make` fails and the relay sends each write itself.
    /// Used only by its relay thread.
    final class RelaySendBatch {
        /// One queued send, or close (`length` -1).
        struct Entry {
            var slot: Int32
            var generation: UInt32
            var side: RelayConnection.Side
            var fd: Int32
            var offset: Int
            var length: Int
            /// The source side ended after these bytes: close the connection once they are out.
            var thenClose: Bool
        }

        private var ring = ckp_uring()
        private let arena: UnsafeMutableRawBufferPointer
        private let readSize: Int
        private var used = 0
        private var entries: [Entry] = []
        /// The entries being completed (swapped with `entries`, so neither is copied).
        private var completing: [Entry] = []
        /// Each entry's result, by queue position; kept to avoid an allocation per pass.
        private var results: [Int?] = []
        private let capacity: Int
        private let logger: Logger
        /// Set after a failed submit: later passes send directly.
        private(set) var disabled = false

        /// Arena room for this many full reads before a pass must submit early.
        static let readsPerArena = 8

        private init(ring: ckp_uring, readSize: Int, logger: Logger) {
            self.ring = ring
            self.readSize = readSize
            self.capacity = Int(ring.entries)
            self.arena = .allocate(byteCount: readSize * Self.readsPerArena, alignment: 64)
            self.logger = logger
            entries.reserveCapacity(capacity)
            completing.reserveCapacity(capacity)
            results.reserveCapacity(capacity)
        }

        /// A batch whose reads are `readSize` bytes, or the `errno` of `io_uring_setup` (logged
        /// at info level) where `io_uring` is unavailable. Call on the thread that will submit:
        /// the ring is created for a single submitter, and the kernel's work for the ring (at
        /// its teardown too) interrupts that thread's blocking calls with `EINTR`, which the
        /// relay thread retries.
        static func make(entries: Int, readSize: Int, logger: Logger) -> Result<RelaySendBatch, RelayError> {
            var ring = ckp_uring()
            let code = ckp_uring_init(&ring, UInt32(entries))
            guard code == 0 else {
                logger.info(
                    "io_uring unavailable; the relay sends each write with its own system call",
                    metadata: ["error": "\(RelaySystem.describe(-code))"])
                return .failure(RelayError(call: "io_uring_setup", errno: -code))
            }
            return .success(RelaySendBatch(ring: ring, readSize: readSize, logger: logger))
        }

        deinit {
            ckp_uring_free(&ring)
            arena.deallocate()
        }

        var isEmpty: Bool { entries.isEmpty }

        /// Whether one more entry fits.
        var hasEntryRoom: Bool { !disabled && entries.count < capacity }

        /// Queues `close(fd)` behind everything queued so far. Call only when `hasEntryRoom`.
        func queueClose(_ fd: Int32) {
            let queued = ckp_uring_queue_close(&ring, fd, UInt64(entries.count))
            precondition(queued == 0, "relay send ring full")
            entries.append(Entry(slot: -1, generation: 0, side: .client, fd: fd, offset: 0, length: -1, thenClose: false))
        }

        /// Whether one more read of `readSize` bytes and its send fit.
        var hasRoom: Bool {
            !disabled && used + readSize <= arena.count && entries.count < capacity
        }

        /// Where the next read goes (valid while `hasRoom`).
        var readPointer: UnsafeMutableRawPointer { arena.baseAddress! + used }

        /// Queues a send of the `length` bytes just read at `readPointer` to `fd`, for the
        /// connection in `slot` (`side` is where the bytes came from; `thenClose` when that side
        /// ended after them). Call only when `hasRoom`.
        func queue(
            fd: Int32, length: Int, slot: Int32, generation: UInt32, side: RelayConnection.Side, thenClose: Bool
        ) {
            let entry = Entry(
                slot: slot, generation: generation, side: side, fd: fd, offset: used, length: length,
                thenClose: thenClose)
            let queued = ckp_uring_queue_send(
                &ring, fd, arena.baseAddress! + used, UInt32(length), Self.extraFlags(thenClose), UInt64(entries.count))
            // `hasRoom` counted the entries; the ring has at least `capacity` free slots after a submit.
            precondition(queued == 0, "relay send ring full")
            entries.append(entry)
            used = (used + length + 63) & ~63
        }

        /// Runs everything queued, then calls `completed` once per queued send, in queue
        /// order, with its result (bytes sent, or a negative errno) and its bytes. The bytes
        /// stay valid only during the call. The batch is empty again before the first call, so
        /// `completed` may close connections (which submits nothing more).
        func submit(_ completed: (Entry, Int, UnsafeRawBufferPointer) -> Void) {
            guard !entries.isEmpty else { return }
            if entries.count == 1 {
                completeAlone(completed)
                return
            }
            swap(&entries, &completing)
            defer { completing.removeAll(keepingCapacity: true) }
            results.removeAll(keepingCapacity: true)
            results.append(contentsOf: repeatElement(nil, count: completing.count))
            let submitted = ckp_uring_submit_wait(&ring)
            var userData: UInt64 = 0
            var result: Int32 = 0
            while ckp_uring_next(&ring, &userData, &result) == 1 {
                if Int(userData) < results.count { results[Int(userData)] = Int(result) }
            }
            if submitted < 0 {
                ckp_uring_abandon(&ring)
                disabled = true
                logger.warning(
                    "io_uring submit failed; the relay sends each write with its own system call from now on",
                    metadata: ["error": "\(RelaySystem.describe(-submitted))"])
            }
            let base = UnsafeRawPointer(arena.baseAddress!)
            for (index, entry) in completing.enumerated() {
                if entry.length < 0 {
                    if results[index] == nil { Glibc.close(entry.fd) }
                    continue
                }
                let bytes = UnsafeRawBufferPointer(start: base + entry.offset, count: entry.length)
                // Not taken by the kernel (a failed submit): sent here, once.
                let outcome = results[index] ?? Self.sendDirectly(entry.fd, bytes, thenClose: entry.thenClose)
                completed(entry, outcome, bytes)
            }
            used = 0
        }

        /// One entry gains nothing from the ring (one system call either way, and the ring's
        /// own work on top), and a lone request on an idle connection is the latency case:
        /// it is taken back from the ring and made directly.
        private func completeAlone(_ completed: (Entry, Int, UnsafeRawBufferPointer) -> Void) {
            ckp_uring_abandon(&ring)
            let entry = entries[0]
            entries.removeAll(keepingCapacity: true)
            defer { used = 0 }
            if entry.length < 0 {
                Glibc.close(entry.fd)
                return
            }
            let bytes = UnsafeRawBufferPointer(start: arena.baseAddress! + entry.offset, count: entry.length)
            completed(entry, Self.sendDirectly(entry.fd, bytes, thenClose: entry.thenClose), bytes)
        }

        /// `MSG_MORE` for the last bytes before an end: the connection's close follows this send
        /// in the same pass (the completion queues it), so the bytes wait in the socket for an
        /// instant and the close's FIN is set on their segment (`tcp_send_fin` marks an unsent
        /// tail instead of sending a segment of its own). On loopback each segment is sent and
        /// received in the sender's system call, so one segment fewer per connection is kernel
        /// work the relay no longer does (docs/dataplane-profile.md, "Tenth pass"). A send that
        /// takes only part of the bytes leaves them corked only until the socket's next push:
        /// the rest goes out without `MSG_MORE` on `EPOLLOUT`, and acknowledgements push too.
        private static func extraFlags(_ thenClose: Bool) -> Int32 {
            thenClose ? Int32(MSG_MORE) : 0
        }

        private static func sendDirectly(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, thenClose: Bool) -> Int {
            while true {
                let sent = send(
                    fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT) | extraFlags(thenClose))
                if sent >= 0 { return sent }
                if errno != EINTR { return -Int(errno) }
            }
        }
    }
#endif
