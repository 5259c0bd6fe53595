import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file descriptors the data plane may hold: `limit` (`RLIMIT_NOFILE`) minus a `reserve`
/// left to the rest of the process.
///
/// Every listener, relayed TCP connection (2 descriptors: client and backend) and UDP session
/// socket is counted. A new TCP client is accepted and closed at once, and a new UDP client's
/// datagram dropped, when its descriptors would not fit: the proxy never runs itself out of
/// descriptors, so `accept4` keeps working, `/healthz` and `/metrics` keep answering and the API
/// watches can reconnect. Listeners are counted with `acquire`; how many may be opened at all is
/// decided beforehand by `ListenerCapacity` (three quarters of `ceiling`), so they never crowd
/// out connections or the reserve.
///
/// The reserve is what the observability servers, the API client, port claims, log and manifest
/// files and child processes share; those servers must bound their own connections well below it
/// so that they cannot eat into the data plane's share either.
///
/// Counts are relaxed atomics: one compare-and-swap per accepted connection or new session.
public final class DescriptorBudget: Sendable {
    /// The descriptor limit of the process the budget was made for.
    public let limit: Int
    /// Descriptors the data plane leaves to the rest of the process.
    public let reserve: Int
    private let held = Atomic<Int>(0)
    private let lastWarning = Atomic<Int64>(.min)
    /// The highest descriptor number `prepareTable` has grown the table to.
    private let preparedUpTo = Atomic<Int>(0)

    /// A budget of `limit - reserve` descriptors; `reserve` defaults to `defaultReserve(limit:)`.
    public init(limit: Int, reserve: Int? = nil) {
        self.limit = max(0, limit)
        self.reserve = max(0, reserve ?? Self.defaultReserve(limit: limit))
    }

    /// An eighth of the limit, at least 192 and at most 1,024, but never more than half the
    /// limit. 192 covers the observability servers' own caps (64 connections each for healthz
    /// and metrics) plus the API watches, log, manifest files and child processes: with
    /// `ulimit -n 1024` the data plane holds up to 832 descriptors (about 410 connections), with
    /// 1,048,576 it leaves 1,024.
    public static func defaultReserve(limit: Int) -> Int {
        min(limit / 2, min(1024, max(192, limit / 8)))
    }

    /// A budget for this process's current soft `RLIMIT_NOFILE` (an unlimited or unreadable
    /// limit counts as 1,048,576, the common container default).
    public static func forThisProcess() -> DescriptorBudget {
        DescriptorBudget(limit: processLimit() ?? 1 << 20)
    }

    /// The soft `RLIMIT_NOFILE` of this process, `nil` when unlimited or unreadable.
    public static func processLimit() -> Int? {
        var limits = rlimit()
        // RLIM_INFINITY is the largest value: the second test excludes it.
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0, limits.rlim_cur < rlim_t(Int32.max)
        else { return nil }
        return Int(limits.rlim_cur)
    }

    /// The most descriptors the data plane may hold.
    public var ceiling: Int { max(0, limit - reserve) }

    /// Makes room in this process's descriptor table for `count` more data-plane descriptors
    /// (below the rest of the process's, at most `reserve` of them) before they are opened.
    ///
    /// Linux grows a process's descriptor table by doubling, and in a process with more than
    /// one thread each growth waits for an RCU grace period (`expand_files` calls
    /// `synchronize_rcu`), about 15 ms here: opening 10,000 listeners one after another grew it
    /// six times and left the sync asleep for 90 ms. Asking for the highest number once, with
    /// `F_DUPFD_CLOEXEC` on a scratch descriptor that is closed again, grows it in one step.
    /// The table never shrinks, so later opens and accepts up to that number wait for nothing.
    /// Harmless when the table is already big enough; never above the descriptor limit.
    public func prepareTable(forMore count: Int) {
        guard count > 0 else { return }
        let highest = min(limit, reserve + inUse + count) - 1
        // Below a few hundred descriptors the table's first sizes come without a wait worth one;
        // a sync that opens a port or two after the first asks for no more than it already has.
        guard highest >= 256, highest > preparedUpTo.load(ordering: .relaxed) else { return }
        let scratch = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard scratch >= 0 else { return }
        let grown = fcntl(scratch, F_DUPFD_CLOEXEC, Int32(clamping: highest))
        if grown >= 0 {
            close(grown)
            preparedUpTo.store(highest, ordering: .relaxed)
        }
        close(scratch)
    }

    /// Descriptors currently counted.
    public var inUse: Int { held.load(ordering: .relaxed) }

    /// Counts `count` more descriptors if they fit under `ceiling`; `false` (and nothing counted)
    /// otherwise.
    public func tryAcquire(_ count: Int) -> Bool {
        tryAcquire(count, within: ceiling)
    }

    /// Counts `count` more descriptors if the total stays within `limit` (at most `ceiling`);
    /// `false` (and nothing counted) otherwise. Optional extras, such as a busy port's additional
    /// listening sockets, use a limit below `ceiling` so they never crowd out connections.
    func tryAcquire(_ count: Int, within limit: Int) -> Bool {
        let bound = min(limit, ceiling)
        var current = held.load(ordering: .relaxed)
        while current + count <= bound {
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + count, ordering: .relaxed
            )
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Counts `count` descriptors whether they fit or not (listening sockets, already admitted
    /// by `ListenerCapacity`).
    public func acquire(_ count: Int) {
        held.wrappingAdd(count, ordering: .relaxed)
    }

    /// Stops counting `count` descriptors (their sockets closed).
    public func release(_ count: Int) {
        held.wrappingSubtract(count, ordering: .relaxed)
    }

    /// `true` at most once per `interval` (process-wide), so a refusal storm logs one warning.
    func shouldWarn(nowNanoseconds now: Int64, interval: Int64 = 10_000_000_000) -> Bool {
        let last = lastWarning.load(ordering: .relaxed)
        guard last == .min || now - last >= interval else { return false }
        return lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
    }
}
