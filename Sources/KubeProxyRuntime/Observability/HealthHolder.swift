import KubeAPI
import KubeProxyCore
import Synchronization

/// The one shared copy of the proxy's health: the controller records events into it, the
/// healthz/livez and per-service health check handlers read verdicts from it.
///
/// Why a lock around a value: `ProxyHealth` is pure and tested on its own; this class only adds
/// thread safety and "now". Handlers run on event-loop threads and must not hop to an actor, so
/// a `Mutex` (held for a dictionary update or a verdict computation) is the right tool.
public final class HealthHolder: Sendable {
    private let state: Mutex<ProxyHealth<WallTime>>
    private let now: @Sendable () -> WallTime

    /// Creates a holder whose health times out after `timeout`; `now` is injected for tests.
    public init(timeout: Duration, now: @escaping @Sendable () -> WallTime = { WallTime.now }) {
        self.state = Mutex(ProxyHealth(timeout: timeout))
        self.now = now
    }

    /// Creates a holder with upstream's timeout of twice `syncPeriod`.
    public convenience init(syncPeriod: Duration, now: @escaping @Sendable () -> WallTime = { WallTime.now }) {
        self.init(timeout: syncPeriod * 2, now: now)
    }

    /// A change for `family` awaits a sync (call when an event leads to a sync request).
    public func queued(_ family: IPFamily) {
        let instant = now()
        state.withLock { $0.queued(family, at: instant) }
    }

    /// A sync of `family` succeeded.
    public func updated(_ family: IPFamily) {
        let instant = now()
        state.withLock { $0.updated(family, at: instant) }
    }

    /// Sets (or clears, with `nil`) why `family` cannot serve every service port; `/healthz`
    /// answers 503 with the reason while one is set.
    public func unserved(_ family: IPFamily, reason: String?) {
        state.withLock { $0.unserved(family, reason: reason) }
    }

    /// This host's Node object changed; `nil` when it was deleted.
    public func nodeChanged(_ node: Node?) {
        state.withLock { $0.nodeChanged(node) }
    }

    /// The `/healthz` verdict now.
    public func healthz() -> HealthVerdict<WallTime> {
        let instant = now()
        return state.withLock { $0.healthz(at: instant) }
    }

    /// The `/livez` verdict now.
    public func livez() -> HealthVerdict<WallTime> {
        let instant = now()
        return state.withLock { $0.livez(at: instant) }
    }

    /// Whether the proxy is healthy now (node eligibility ignored), as per-service health checks
    /// report it in `serviceProxyHealthy`.
    public var isHealthy: Bool {
        let instant = now()
        return state.withLock { $0.isHealthy(at: instant) }
    }

    /// A copy of the current bookkeeping, for tests and diagnostics.
    public var snapshot: ProxyHealth<WallTime> {
        state.withLock { $0 }
    }
}
