import KubeProxyCore
import Logging
import NIOCore

/// The userspace data plane: one listener per desired service port on `bindAddress`, relaying
/// each accepted connection to an endpoint chosen by that port's `RoundRobinBalancer`.
///
/// The caller (the sync loop) hands the complete desired state to `apply` on every sync; the
/// proxy converges to it and returns what it changed. Guarantees:
/// - a listener is keyed by `ServicePortName` (protocol included) only: endpoint and affinity
///   changes update its balancer in place and never re-create it; they affect new connections
///   only (TCP-09);
/// - a port that leaves the desired state has its listener closed; its established connections
///   keep flowing until either side closes (TCP-08);
/// - a port whose listener could not be opened is retried on every `apply` (upstream waited for
///   the Service to change, PA-05);
/// - proxy ports come from the `PortAllocator`; a port whose bind failed with `EADDRINUSE` is
///   skipped (another port of the range is tried) and given back afterwards, and a closed
///   listener's port is given back (upstream leaked both, PA-07);
/// - UDP and SCTP ports are reported `.unsupported` and never crash anything.
///
/// `apply` and `shutdown` calls are serialised internally, so overlapping calls are safe.
public actor UserspaceProxy {
    /// One open listener and the desired state it last applied.
    struct Active {
        var desired: ProxiedPort
        let listener: any ServicePortListener
        /// The port the allocator handed out (0 in kernel-picks mode), released on close.
        let allocatedPort: Int
    }

    let group: any EventLoopGroup
    let bindAddress: IPAddress
    let dialTimeouts: [TimeAmount]
    let dialer: any BackendDialer
    let logger: Logger
    let tracker: ConnectionTracker
    var allocator: PortAllocator
    var active: [ServicePortName: Active] = [:]
    var statuses: [ServicePortName: ListenerStatus] = [:]
    private var isShutDown = false
    private var isBusy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// The upstream dial ladder (TCP-04): four attempts, doubling timeouts.
    public static let defaultDialTimeouts: [Duration] = [
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
    ]

    /// Creates a proxy with no listeners.
    ///
    /// - Parameters:
    ///   - group: event loops for listeners, connections and dials (the proxy does not own it).
    ///   - bindAddress: `--bind-address`; IPv4 or IPv6, unspecified (`0.0.0.0`/`::`) allowed.
    ///   - portRange: `--proxy-port-range`; `nil` lets the kernel pick each listener's port.
    ///   - dialTimeouts: one entry per dial attempt of a connection; empty means the default.
    ///   - logger: receives per-connection failures at debug level; per-port changes are
    ///     returned from `apply` for the caller to log.
    public init(
        group: any EventLoopGroup,
        bindAddress: IPAddress,
        portRange: PortRange?,
        dialTimeouts: [Duration] = UserspaceProxy.defaultDialTimeouts,
        logger: Logger
    ) {
        self.init(
            group: group, bindAddress: bindAddress, portRange: portRange, dialTimeouts: dialTimeouts,
            dialer: TCPBackendDialer(), logger: logger
        )
    }

    /// The designated initialiser, with the dialer seam for tests.
    init(
        group: any EventLoopGroup,
        bindAddress: IPAddress,
        portRange: PortRange?,
        dialTimeouts: [Duration],
        dialer: any BackendDialer,
        logger: Logger
    ) {
        self.group = group
        self.bindAddress = bindAddress
        self.allocator = PortAllocator(range: portRange)
        let ladder = dialTimeouts.isEmpty ? UserspaceProxy.defaultDialTimeouts : dialTimeouts
        self.dialTimeouts = ladder.map { TimeAmount($0) }
        self.dialer = dialer
        self.logger = logger
        self.tracker = ConnectionTracker(eventLoop: group.next())
    }

    /// Converges to `desired` (keyed by each port's `name`) and returns what changed, sorted by
    /// service port; stops come first so a freed range port can serve a new listener at once.
    ///
    /// Also forgets expired ClientIP pins of every listener (LB-14). After `shutdown` it does
    /// nothing and returns no changes.
    public func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange] {
        await acquire()
        defer { release() }
        guard !isShutDown else { return [] }
        var changes: [DataPlaneChange] = []
        for name in active.keys.sorted() where desired[name] == nil {
            changes.append(await stop(name))
        }
        for name in statuses.keys where desired[name] == nil && active[name] == nil {
            statuses[name] = nil
        }
        for name in desired.keys.sorted() {
            guard var port = desired[name] else { continue }
            port.name = name
            if let change = active[name] == nil ? await start(port) : await update(port) {
                changes.append(change)
            }
        }
        for entry in active.values {
            try? await entry.listener.balancer.removeStaleAffinity().get()
        }
        return changes
    }

    /// The outcome for every desired service port of the last `apply`.
    public func status() -> [ServicePortName: ListenerStatus] {
        statuses
    }

    /// The number of open relayed channels (two per established connection, one per client
    /// still waiting for its dial); for diagnostics and tests.
    public func openChannelCount() async -> Int {
        (try? await tracker.count().get()) ?? 0
    }

    /// Closes every listener and every relayed connection; later `apply` calls do nothing.
    ///
    /// Call it before dropping the proxy: listeners live on the event loops, not in this object.
    public func shutdown() async {
        await acquire()
        defer { release() }
        guard !isShutDown else { return }
        isShutDown = true
        for name in active.keys.sorted() {
            _ = await stop(name)
        }
        statuses = [:]
        try? await tracker.closeAll().get()
    }

    /// Waits until no other `apply`/`shutdown` runs: actor methods interleave at every `await`.
    private func acquire() async {
        if isBusy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            isBusy = true
        }
    }

    /// Hands the turn to the next waiter, or marks the proxy idle.
    private func release() {
        if waiters.isEmpty {
            isBusy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
