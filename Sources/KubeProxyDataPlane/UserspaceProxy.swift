import KubeProxyCore
import Logging
import NIOCore

/// The userspace data plane: one listener per desired service port on `bindAddress`, relaying
/// each TCP connection or UDP session to an endpoint chosen by that port's `RoundRobinBalancer`.
///
/// The caller (the sync loop) hands the complete desired state to `apply` on every sync; the
/// proxy converges to it and returns what it changed. Guarantees:
/// - a listener is keyed by `ServicePortName` (protocol included) only: endpoint and affinity
///   changes update its balancer in place and never re-create it; they affect new connections
///   and new UDP sessions only (docs/userspace-behaviour.md#tcp-changes); a UDP session to a removed endpoint goes on until idle;
/// - a port that leaves the desired state has its listener closed; its established TCP
///   connections keep flowing until either side closes, its UDP sessions end at once;
/// - a port whose listener could not be opened is retried on every `apply` (upstream waited for
///   the Service to change; docs/userspace-behaviour.md#port-allocation);
/// - a new listener binds its `preferredPort` first when one is given (a restart keeps the
///   kernel's rules valid), else a port from the `PortAllocator`; a port whose bind failed with
///   `EADDRINUSE` is skipped (another port of the range is tried) and given back afterwards, and
///   a closed listener's port is given back (upstream leaked both);
/// - expired ClientIP pins are forgotten on every `apply` and at least every 60 s (docs/userspace-behaviour.md#client-ip-affinity);
/// - SCTP ports are reported `.unsupported` and never crash anything;
/// - no more listeners are opened than `ListenerCapacity` allows (descriptor budget less a
///   quarter kept for connections, and the port range): the ports beyond it get the status
///   `.unserved`, no per-port change, and one warning naming them whenever their set changes;
///   they are opened by a later `apply` once capacity frees up (a Service deleted).
///
/// `apply` and `shutdown` calls are serialised internally, so overlapping calls are safe.
public actor UserspaceProxy {
    /// One open listener and the desired state it last applied.
    ///
    /// Only the parts of the `ProxiedPort` that later syncs compare (endpoints and affinity;
    /// the name is the table's key, the preferred port matters only at the start): the table
    /// holds one entry per service port, 10k at scale.
    struct Active {
        /// The endpoints last handed to the balancer, as the sync gave them.
        var endpoints: [EndpointAddress]
        /// The affinity last handed to the balancer.
        var sessionAffinity: SessionAffinity
        let listener: any ServicePortListener
        /// The port the allocator handed out (0 in kernel-picks mode), released on close.
        let allocatedPort: Int
        /// The listener's statistics.
        let counters: ListenerCounters
        /// The periodic removal of expired ClientIP pins while the port has ClientIP affinity
        /// (nothing to remove otherwise, and 10k idle timers are not free), cancelled on close.
        var affinityCleanup: RepeatedTask?
    }

    let group: any EventLoopGroup
    /// Every loop of `group`: a busy TCP port gets a listening socket on each (`TCPListener`).
    let eventLoops: [any EventLoop]
    let bindAddress: IPAddress
    let dialTimeouts: [TimeAmount]
    let dialer: any BackendDialer
    let udpSettings: UDPSessionSettings
    /// The keepalive of both sockets of every relayed TCP connection.
    let keepalive: TCPKeepalive
    /// The descriptors the data plane may hold (listeners, relayed connections, UDP sessions).
    let descriptors: DescriptorBudget
    let affinityCleanupInterval: TimeAmount
    let logger: Logger
    let tracker: ConnectionTracker
    #if canImport(Glibc)
        /// The relay threads of TCP ports with the `epoll` engine; `nil` with NIO's.
        nonisolated let relay: RelayGroup?
    #endif
    /// The held NodePorts and local service addresses (`updateClaims`).
    let claims: PortClaims
    var allocator: PortAllocator
    /// How many listeners fit (descriptors and ports); ports beyond it are not opened.
    let capacity: ListenerCapacity
    /// The service ports the last `apply` left unserved for lack of capacity, `nil` when none.
    private var unserved: UnservedPorts?
    var active: [ServicePortName: Active] = [:]
    var statuses: [ServicePortName: ListenerStatus] = [:]
    /// Desired service ports of the last `apply` without a listener (failed, unserved,
    /// unsupported): every `apply` retries them, changed or not.
    private var waiting: Set<ServicePortName> = []
    /// Open listeners per protocol, kept with `active`, so admitting a new listener does not
    /// count every open one.
    var activePerProtocol: [TransportProtocol: Int] = [:]
    private var isShutDown = false
    private var turns = TurnQueue()

    /// The upstream dial ladder (docs/userspace-behaviour.md#tcp-dial-ladder): four attempts, doubling timeouts.
    public static let defaultDialTimeouts: [Duration] = [
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
    ]

    /// Upstream's `--udp-timeout` default: a UDP session idle this long is closed.
    public static let defaultUDPIdleTimeout: Duration = .milliseconds(250)

    /// The default bound of the UDP session table of each service port (upstream had none and
    /// could run out of file descriptors, kubernetes/kubernetes#12144).
    public static let defaultUDPSessionLimit = 10_000

    /// Creates a proxy with no listeners.
    ///
    /// - Parameters:
    ///   - group: event loops for listeners, connections and dials (the proxy does not own it); a
    ///     TCP port that sees connections listens on every loop (`SO_REUSEPORT`), so the data plane
    ///     uses as many cores as the group has threads.
    ///   - bindAddress: `--bind-address`; IPv4 or IPv6, unspecified (`0.0.0.0`/`::`) allowed.
    ///   - portRange: `--proxy-port-range`; `nil` lets the kernel pick each listener's port.
    ///   - dialTimeouts: one entry per dial attempt of a connection; empty means the default.
    ///   - udpIdleTimeout: `--udp-timeout`; a UDP session with no datagram in either direction
    ///     for this long is closed (within a quarter of it more). Non-positive means the default.
    ///   - udpSessionLimit: the most UDP sessions per service port; datagrams of new clients are
    ///     dropped while the table is full (one warning per port per 10 s). At least 1.
    ///   - descriptors: the descriptors the data plane may hold; new TCP clients are closed at
    ///     once and datagrams of new UDP clients dropped beyond it. Defaults to this process's
    ///     `RLIMIT_NOFILE` less `DescriptorBudget.defaultReserve(limit:)`; pass a shared budget
    ///     to make other components see the same count.
    ///   - ephemeralPorts: the kernel's ephemeral port range, which bounds the listeners per
    ///     protocol when no `portRange` is given; `nil` for no bound.
    ///   - tcpRelay: the engine that relays TCP connections (`--userspace-tcp-relay`); `.epoll`
    ///     starts one relay thread per loop of `group`, and falls back to NIO (with a warning)
    ///     where it cannot start.
    ///   - logger: receives per-connection failures at debug level and warnings that have no
    ///     other outlet (a full UDP session table, the descriptor reserve reached); per-port
    ///     changes are returned from `apply` for the caller to log.
    public init(
        group: any EventLoopGroup,
        bindAddress: IPAddress,
        portRange: PortRange?,
        dialTimeouts: [Duration] = UserspaceProxy.defaultDialTimeouts,
        udpIdleTimeout: Duration = UserspaceProxy.defaultUDPIdleTimeout,
        udpSessionLimit: Int = UserspaceProxy.defaultUDPSessionLimit,
        descriptors: DescriptorBudget = .forThisProcess(),
        ephemeralPorts: ClosedRange<Int>? = ListenerCapacity.hostEphemeralRange(),
        tcpRelay: TCPRelayEngine = .nio,
        logger: Logger
    ) {
        self.init(
            group: group, bindAddress: bindAddress, portRange: portRange, dialTimeouts: dialTimeouts,
            udpIdleTimeout: udpIdleTimeout, udpSessionLimit: udpSessionLimit, descriptors: descriptors,
            ephemeralPorts: ephemeralPorts, dialer: TCPBackendDialer(), tcpRelay: tcpRelay, logger: logger
        )
    }

    /// The designated initialiser, with the seams for tests (dialer, affinity cleanup period,
    /// keepalive timers of accepted sockets, descriptor budget).
    init(
        group: any EventLoopGroup,
        bindAddress: IPAddress,
        portRange: PortRange?,
        dialTimeouts: [Duration],
        udpIdleTimeout: Duration = UserspaceProxy.defaultUDPIdleTimeout,
        udpSessionLimit: Int = UserspaceProxy.defaultUDPSessionLimit,
        affinityCleanupInterval: Duration = .seconds(60),
        keepalive: TCPKeepalive = .upstream,
        descriptors: DescriptorBudget = .forThisProcess(),
        ephemeralPorts: ClosedRange<Int>? = nil,
        dialer: any BackendDialer,
        tcpRelay: TCPRelayEngine = .nio,
        batchRelaySends: Bool = true,
        logger: Logger
    ) {
        self.group = group
        self.eventLoops = Array(group.makeIterator())
        self.bindAddress = bindAddress
        self.allocator = PortAllocator(range: portRange)
        self.capacity = ListenerCapacity(budget: descriptors, portRange: portRange, ephemeralPorts: ephemeralPorts)
        let ladder = dialTimeouts.isEmpty ? UserspaceProxy.defaultDialTimeouts : dialTimeouts
        self.dialTimeouts = ladder.map { TimeAmount($0) }
        let idle = udpIdleTimeout > .zero ? udpIdleTimeout : UserspaceProxy.defaultUDPIdleTimeout
        self.udpSettings = UDPSessionSettings(idleTimeout: TimeAmount(idle), sessionLimit: max(1, udpSessionLimit))
        self.affinityCleanupInterval = TimeAmount(affinityCleanupInterval)
        self.keepalive = keepalive
        self.descriptors = descriptors
        self.dialer = dialer
        self.logger = logger
        self.tracker = ConnectionTracker(eventLoop: group.next())
        #if canImport(Glibc)
            var relay: RelayGroup?
            if tcpRelay == .epoll {
                do {
                    relay = try RelayGroup(
                        threads: eventLoops.count, dial: RelayDialSettings(timeouts: self.dialTimeouts, keepalive: keepalive),
                        batchSends: batchRelaySends, logger: logger)
                } catch {
                    logger.warning(
                        "cannot start the epoll relay; relaying TCP with NIO", metadata: ["error": "\(error)"])
                }
            }
            self.relay = relay
        #endif
        self.claims = PortClaims(group: group, family: bindAddress.family, descriptors: descriptors, logger: logger)
    }

    /// Converges to `desired` (keyed by each port's `name`) and returns what changed, sorted by
    /// service port; stops come first so a freed range port can serve a new listener at once.
    ///
    /// Also forgets expired ClientIP pins of every listener. After `shutdown` it does
    /// nothing and returns no changes.
    public func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange] {
        await apply(desired, changed: nil)
    }

    /// `apply(_:)` when only the entries named in `changed` can differ from the previous
    /// `desired` (added, removed or updated; the caller's sync delta): the cost is that of the
    /// change, not of every listener. Ports still waiting for a listener (failed, unserved) are
    /// retried as by a full `apply`. `nil` compares everything.
    public func apply(_ desired: [ServicePortName: ProxiedPort], changed: Set<ServicePortName>?) async -> [DataPlaneChange] {
        await acquire()
        defer { turns.pass() }
        guard !isShutDown else { return [] }
        var considered = changed ?? Set(desired.keys).union(active.keys).union(statuses.keys)
        considered.formUnion(waiting)
        var changes: [DataPlaneChange] = []
        for name in considered.sorted() where desired[name] == nil {
            if active[name] != nil {
                changes.append(await stop(name))
            } else {
                statuses[name] = nil
            }
        }
        // New listeners with a preferred port go first, so no allocation of this pass takes a
        // port that another listener's kernel rules still point at.
        let names = considered.filter { desired[$0] != nil }.sorted()
        let wantsOwnPort = { (index: Int) in
            self.active[names[index]] == nil && desired[names[index]]?.preferredPort != nil
        }
        // By position in `names` (an array, not a dictionary of 10k changes at the first sync).
        var converged = [DataPlaneChange?](repeating: nil, count: names.count)
        var admission = Admission(total: active.count, perProtocol: activePerProtocol)
        // Room for every new listener at once: growing 10k-entry tables step by step holds the
        // old and the new storage at each step, at the first sync's peak.
        active.reserveCapacity(active.count + names.count)
        statuses.reserveCapacity(statuses.count + names.count)
        for batch in [names.indices.filter(wantsOwnPort), names.indices.filter({ !wantsOwnPort($0) })] {
            for index in batch where active[names[index]] != nil {
                guard var port = desired[names[index]] else { continue }
                port.name = names[index]
                converged[index] = await update(port)
            }
            let fresh = batch.filter { active[names[$0]] == nil && admission.admit(names[$0], capacity: capacity) }
            await startAll(fresh, of: names, desired: desired, into: &converged)
        }
        for (name, shortage) in admission.refused { statuses[name] = .unserved(reason: shortage.description) }
        report(unserved: admission.report)
        changes += converged.compactMap { $0 }
        for name in considered {
            if desired[name] != nil && active[name] == nil { waiting.insert(name) } else { waiting.remove(name) }
        }
        // Stale affinity entries are removed by each balancer's own periodic task; walking every
        // listener here would cost one event-loop hop per service port on every sync.
        return changes
    }

    /// How many listeners are opened at once: each open waits on event-loop hops (balancer,
    /// bind), so opening 10,000 one after another took tens of seconds.
    static let openConcurrency = 64

    /// Starts `names[i]` for every `i` in `indices` and stores each change at its index in
    /// `changes`. Listeners on the epoll relay open without a hop (the socket calls are made
    /// here and the relay thread is handed the socket), so they are started one after another
    /// on the actor, with the relay's wake-ups held until the last: a task per listener, as
    /// the NIO listeners need, cost more than the open itself (a third of a 10,000-port first
    /// sync's listener phase). The rest go through `startConcurrently`.
    private func startAll(
        _ indices: [Int], of names: [ServicePortName], desired: [ServicePortName: ProxiedPort],
        into changes: inout [DataPlaneChange?]
    ) async {
        var others = indices
        descriptors.prepareTable(forMore: indices.count)
        #if canImport(Glibc)
            if let relay {
                others = indices.filter { names[$0].protocol != .tcp }
                relay.holdWakes()
                defer { relay.releaseWakes() }
                for index in indices where names[index].protocol == .tcp {
                    guard var port = desired[names[index]] else { continue }
                    port.name = names[index]
                    changes[index] = await start(port)
                }
            }
        #endif
        await startConcurrently(others, of: names, desired: desired, into: &changes)
    }

    /// Starts `names[i]` for every `i` in `indices`, with at most `openConcurrency` opens in
    /// flight, and stores each change at its index in `changes`. Safe on the actor: each start
    /// allocates its port before its first suspension and touches only its own entries.
    private func startConcurrently(
        _ indices: [Int], of names: [ServicePortName], desired: [ServicePortName: ProxiedPort],
        into changes: inout [DataPlaneChange?]
    ) async {
        var pending = indices[...]
        await withTaskGroup(of: (Int, DataPlaneChange?).self) { group in
            var inFlight = 0
            while true {
                while inFlight < Self.openConcurrency, let index = pending.popFirst(), var port = desired[names[index]] {
                    port.name = names[index]
                    let start = port
                    group.addTask { (index, await self.start(start)) }
                    inFlight += 1
                }
                guard let (index, change) = await group.next() else { break }
                changes[index] = change
                inFlight -= 1
            }
        }
    }

    /// Which fresh service ports of one `apply` fit the listener capacity.
    private struct Admission {
        var total: Int
        var perProtocol: [TransportProtocol: Int]
        var refused: [(ServicePortName, ListenerCapacity.Shortage)] = []

        /// Counts `name` in when it fits (unsupported protocols always pass: they open nothing).
        mutating func admit(_ name: ServicePortName, capacity: ListenerCapacity) -> Bool {
            guard UserspaceProxy.unsupportedReason(name.protocol) == nil else { return true }
            if let shortage = capacity.admit(total: total, sameProtocol: perProtocol[name.protocol, default: 0]) {
                refused.append((name, shortage))
                return false
            }
            total += 1
            perProtocol[name.protocol, default: 0] += 1
            return true
        }

        /// The refused ports with the first refusal's reason, `nil` when none was refused.
        var report: UnservedPorts? {
            guard let first = refused.first else { return nil }
            return UnservedPorts(names: refused.map(\.0).sorted(), reason: first.1.description)
        }
    }

    /// Logs the unserved ports once per change of their set (or reason): a warning naming them,
    /// or an info line when every port is served again.
    private func report(unserved now: UnservedPorts?) {
        guard now != unserved else { return }
        let before = unserved
        unserved = now
        if let now {
            logger.warning(
                "service ports not served: listener capacity reached",
                metadata: [
                    "count": "\(now.names.count)", "reason": "\(now.reason)", "summary": "\(now)",
                    "listening": "\(active.count)",
                ])
        } else if let before {
            logger.info(
                "all service ports served again", metadata: ["previouslyUnserved": "\(before.names.count)"])
        }
    }

    /// The service ports the last `apply` could not serve for lack of capacity, `nil` when every
    /// desired port fitted (what `/healthz` reports as its reason).
    public func unservedPorts() -> UnservedPorts? {
        unserved
    }

    /// The listener capacity this proxy enforces.
    public nonisolated var listenerCapacity: ListenerCapacity { capacity }

    /// The outcome for every desired service port of the last `apply`.
    public func status() -> [ServicePortName: ListenerStatus] {
        statuses
    }

    /// The port each of `names` listens on, for those with a listener.
    public func listenerPorts(of names: Set<ServicePortName>) -> [ServicePortName: Int] {
        var ports: [ServicePortName: Int] = [:]
        for name in names {
            if let port = statuses[name]?.port { ports[name] = port }
        }
        return ports
    }

    /// What each open listener has relayed so far (see `ListenerStatistics` for staleness).
    /// Reads atomics only: cheap enough for every metrics scrape.
    public func statistics() -> [ServicePortName: ListenerStatistics] {
        statistics(includingIdle: true)
    }

    /// `statistics()`, leaving out listeners that have counted nothing yet when `includingIdle`
    /// is false: at 10k ports the full report was a 2 MiB dictionary every few seconds (two of
    /// them alive while the metrics swapped theirs), almost all zeros. For totals an absent
    /// listener and an all-zero one fold the same way.
    public func statistics(includingIdle: Bool) -> [ServicePortName: ListenerStatistics] {
        if includingIdle { return active.mapValues { $0.counters.snapshot() } }
        let idle = ListenerStatistics()
        var report: [ServicePortName: ListenerStatistics] = [:]
        for (name, entry) in active {
            let statistics = entry.counters.snapshot()
            if statistics != idle { report[name] = statistics }
        }
        return report
    }

    /// Holds the NodePorts and local service addresses in `desired` open so no other program
    /// takes them (docs/userspace-behaviour.md#port-claims); see `PortClaims.updateClaims`. After `shutdown` it does nothing.
    public func updateClaims(_ desired: Set<PortClaim>) async -> [PortClaimResult] {
        await claims.updateClaims(desired)
    }

    /// How many epoll relay threads send their writes in `io_uring` batches, how many could not
    /// (0 and 0 with the NIO engine or with batching off), and the `errno` that kept a thread
    /// from batching (0 if none); for tests.
    nonisolated func relayBatching() -> (threads: Int, failed: Int, errno: Int32) {
        #if canImport(Glibc)
            guard let statistics = relay?.statistics else { return (0, 0, 0) }
            return (statistics.batchingThreads, statistics.batchingFailedThreads, statistics.batchingErrno)
        #else
            return (0, 0, 0)
        #endif
    }

    /// The number of open relayed channels (two per established connection, one per client
    /// still waiting for its dial); for diagnostics and tests.
    public func openChannelCount() async -> Int {
        let channels = (try? await tracker.count().get()) ?? 0
        #if canImport(Glibc)
            return channels + (relay?.statistics.openSockets ?? 0)
        #else
            return channels
        #endif
    }

    /// The engine relaying TCP connections (`.nio` when `.epoll` was asked for but could not start).
    public nonisolated var tcpRelayEngine: TCPRelayEngine {
        #if canImport(Glibc)
            return relay == nil ? .nio : .epoll
        #else
            return .nio
        #endif
    }

    /// Closes every listener, every relayed connection and every port claim at once; later
    /// `apply` calls do nothing. Same as `shutdown(drainTimeout: .zero)`.
    public func shutdown() async {
        await shutdown(drainTimeout: .zero)
    }

    /// Stops gracefully: closes every listener (no new connections; UDP sessions end with their
    /// listener), lets established TCP connections finish for up to `drainTimeout`, then closes
    /// what is left and releases the port claims. Later `apply` calls do nothing.
    ///
    /// Call it before dropping the proxy: listeners live on the event loops, not in this object.
    public func shutdown(drainTimeout: Duration) async {
        await acquire()
        defer { turns.pass() }
        guard !isShutDown else { return }
        isShutDown = true
        for name in active.keys.sorted() {
            _ = await stop(name)
        }
        statuses = [:]
        unserved = nil
        if drainTimeout > .zero {
            let deadline = ContinuousClock.now + drainTimeout
            var drained = (try? await tracker.drained(within: TimeAmount(drainTimeout)).get()) ?? false
            #if canImport(Glibc)
                if let relay {
                    // The relay threads keep no futures: poll their socket count until the deadline.
                    while relay.statistics.openSockets > 0 && ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    drained = drained && relay.statistics.openSockets == 0
                }
            #endif
            if !drained {
                let open = await openChannelCount()
                logger.info(
                    "drain timeout passed; closing the remaining connections",
                    metadata: ["timeout": "\(drainTimeout)", "channels": "\(open)"]
                )
            }
        }
        try? await tracker.closeAll().get()
        #if canImport(Glibc)
            await relay?.shutdown()
        #endif
        await claims.releaseAll()
    }

    /// Waits until no other `apply`/`shutdown` runs: actor methods interleave at every `await`.
    private func acquire() async {
        if !turns.take() {
            await withCheckedContinuation { turns.wait($0) }
        }
    }
}
