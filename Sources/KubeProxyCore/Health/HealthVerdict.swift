/// One `/healthz` or `/livez` answer as plain data: the status code and the fields of upstream's
/// JSON body (`ProxyHealth` in `pkg/proxy/healthcheck`).
///
/// Why plain data: Core decides *what* the answer is; the runtime only serialises it (RFC 3339
/// times, field order) and counts it, so the decision is testable without sockets or clocks.
public struct HealthVerdict<Instant: Hashable & Sendable>: Hashable, Sendable {
    /// The health of one IP family's proxier (upstream `ProxierHealth`).
    public struct FamilyStatus: Hashable, Sendable {
        /// The family's last successful sync; `nil` if it never synced (upstream prints Go's zero
        /// time).
        public var lastUpdated: Instant?
        /// Whether the family has no change pending for longer than the timeout.
        public var healthy: Bool

        /// Creates a status.
        public init(lastUpdated: Instant?, healthy: Bool) {
            self.lastUpdated = lastUpdated
            self.healthy = healthy
        }
    }

    /// 200 when healthy (and, for `/healthz`, the node is not ineligible); 503 otherwise.
    public var statusCode: Int
    /// The most recent sync of any family; replaced by `currentTime` on a 200, as upstream does
    /// for compatibility with clients of older releases. `nil` if nothing ever synced.
    public var lastUpdated: Instant?
    /// When the verdict was made.
    public var currentTime: Instant
    /// Node eligibility: only in `/healthz` verdicts and only once a Node object has been seen.
    public var nodeEligible: Bool?
    /// Whether every family is healthy (node eligibility not included, as upstream's `healthy`).
    public var healthy: Bool
    /// Per-family detail; empty before any family queued or synced anything.
    public var status: [IPFamily: FamilyStatus]
    /// Why a `/healthz` verdict fails although the syncs are fresh (service ports unserved for
    /// lack of listener capacity); `nil` otherwise. Not an upstream field.
    public var reason: String?

    /// Creates a verdict.
    public init(
        statusCode: Int, lastUpdated: Instant?, currentTime: Instant, nodeEligible: Bool?, healthy: Bool,
        status: [IPFamily: FamilyStatus], reason: String? = nil
    ) {
        self.reason = reason
        self.statusCode = statusCode
        self.lastUpdated = lastUpdated
        self.currentTime = currentTime
        self.nodeEligible = nodeEligible
        self.healthy = healthy
        self.status = status
    }

    /// Whether the answer is a 200.
    public var isOK: Bool { statusCode == 200 }
}
