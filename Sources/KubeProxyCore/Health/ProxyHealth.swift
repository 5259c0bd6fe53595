import KubeAPI

/// The proxy's health bookkeeping as a value: per IP family the oldest change still waiting for
/// a sync and the time of the last successful sync, plus whether this node should receive
/// load-balancer traffic.
///
/// Why a value with injected instants: the `/healthz`, `/livez` and per-service health check
/// answers are pure functions of these few facts and "now", so every transition can be tested
/// with explicit instants, and the runtime keeps one copy behind a lock that both the sync loop
/// and the HTTP handlers touch (upstream `ProxyHealthServer`, minus its HTTP and clock).
///
/// Rules (upstream `pkg/proxy/healthcheck/proxy_health.go`):
/// - `queued(_:at:)` records the time of the *oldest* pending change only when none is pending,
///   so a steady stream of events cannot keep pushing the deadline away.
/// - `updated(_:at:)` clears the pending change and stores the sync time.
/// - A family is unhealthy iff it has a pending change at least `timeout` old (upstream's
///   `now - oldest < timeout` is the healthy test). Nothing queued, including during startup,
///   is healthy.
///
/// Deliberate difference: upstream only inspects families that have synced at least once, so a
/// proxier whose *first* sync hangs stays healthy forever; here a queued family is judged
/// whether or not it has ever synced. Callers record `queued` only for changes that will be
/// synced (after the initial load), so startup is unaffected.
public struct ProxyHealth<Instant: InstantProtocol>: Sendable, Hashable where Instant.Duration == Duration {
    /// Per-family facts.
    struct FamilyState: Hashable, Sendable {
        var oldestPending: Instant?
        var lastUpdated: Instant?
    }

    /// How long a change may wait for a sync before the proxy is reported unhealthy.
    public let timeout: Duration
    private var families: [IPFamily: FamilyState] = [:]
    /// Whether this node should receive external traffic: `nil` until a Node object has been
    /// seen, then `false` when it is being deleted or drained by the cluster autoscaler.
    public private(set) var nodeEligible: Bool?
    /// Per family, why some service ports are not served (listener capacity reached).
    private var unservedReasons: [IPFamily: String] = [:]

    /// Creates the bookkeeping with an explicit timeout.
    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Creates the bookkeeping with upstream's timeout: twice the sync period (cmd/kube-proxy),
    /// so one missed periodic sync is tolerated but two are not.
    public init(syncPeriod: Duration) {
        self.init(timeout: syncPeriod * 2)
    }

    /// A change for `family` arrived and awaits a sync (upstream `QueuedUpdate`).
    public mutating func queued(_ family: IPFamily, at instant: Instant) {
        if families[family, default: FamilyState()].oldestPending == nil {
            families[family, default: FamilyState()].oldestPending = instant
        }
    }

    /// A sync of `family` succeeded (upstream `Updated`): nothing is pending any more.
    public mutating func updated(_ family: IPFamily, at instant: Instant) {
        families[family] = FamilyState(oldestPending: nil, lastUpdated: instant)
    }

    /// Sets (`nil` clears) why `family` leaves service ports unserved. Not upstream: `/healthz`
    /// answers 503 with this reason, so a load balancer steers traffic to nodes that serve
    /// every port; `/livez` and `isHealthy` ignore it (restarting would not add capacity).
    public mutating func unserved(_ family: IPFamily, reason: String?) {
        unservedReasons[family] = reason
    }

    /// The Node object of this host changed; `nil` means it was deleted (or is absent), which
    /// makes the node ineligible, as upstream does for a missing Node.
    public mutating func nodeChanged(_ node: Node?) {
        nodeEligible = Self.isEligible(node)
    }

    /// The taint the cluster autoscaler puts on a node it is about to delete.
    public static var toBeDeletedTaint: String { "ToBeDeletedByClusterAutoscaler" }

    /// Whether a node should receive traffic: it exists, is not being deleted, and is not tainted
    /// `ToBeDeletedByClusterAutoscaler` (upstream `NodeEligible`).
    public static func isEligible(_ node: Node?) -> Bool {
        guard let node else { return false }
        if let deletion = node.metadata.deletionTimestamp, !deletion.isEmpty { return false }
        return !(node.spec?.taints ?? []).contains { $0.key == toBeDeletedTaint }
    }

    /// The oldest pending change of `family`, if any.
    public func oldestPending(_ family: IPFamily) -> Instant? {
        families[family]?.oldestPending
    }

    /// The last successful sync of `family`, if any.
    public func lastUpdated(_ family: IPFamily) -> Instant? {
        families[family]?.lastUpdated
    }

    /// Whether every family is healthy at `now` (what per-service health checks report as
    /// `serviceProxyHealthy`).
    public func isHealthy(at now: Instant) -> Bool {
        families.values.allSatisfy { isHealthy($0, at: now) }
    }

    /// The `/livez` verdict: 200 iff every family is healthy; node eligibility is ignored.
    public func livez(at now: Instant) -> HealthVerdict<Instant> {
        verdict(at: now, includeNode: false)
    }

    /// The `/healthz` verdict: 200 iff every family is healthy, the node is not known to be
    /// ineligible, and no family leaves service ports unserved (then `reason` says why). An unknown node (`nil`: no Node object seen, e.g. running from manifest files)
    /// does not fail the check, as upstream behaved before it waited for the Node at startup.
    public func healthz(at now: Instant) -> HealthVerdict<Instant> {
        verdict(at: now, includeNode: true)
    }

    private func isHealthy(_ state: FamilyState, at now: Instant) -> Bool {
        guard let oldest = state.oldestPending else { return true }
        return oldest.duration(to: now) < timeout
    }

    private func verdict(at now: Instant, includeNode: Bool) -> HealthVerdict<Instant> {
        var status: [IPFamily: HealthVerdict<Instant>.FamilyStatus] = [:]
        var lastUpdated: Instant?
        for (family, state) in families {
            status[family] = .init(lastUpdated: state.lastUpdated, healthy: isHealthy(state, at: now))
            if let updated = state.lastUpdated, lastUpdated.map({ $0 < updated }) ?? true {
                lastUpdated = updated
            }
        }
        let healthy = status.values.allSatisfy(\.healthy)
        let eligible = includeNode ? nodeEligible : nil
        let reason =
            includeNode && !unservedReasons.isEmpty
            ? unservedReasons.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue): \($0.value)" }
                .joined(separator: "; ")
            : nil
        let ok = healthy && eligible != false && reason == nil
        return HealthVerdict(
            statusCode: ok ? 200 : 503,
            // Upstream overwrites lastUpdated with "now" on success, for clients of old releases
            // that read it as "the sync loop is alive".
            lastUpdated: ok ? now : lastUpdated,
            currentTime: now, nodeEligible: eligible, healthy: healthy, status: status, reason: reason)
    }
}
