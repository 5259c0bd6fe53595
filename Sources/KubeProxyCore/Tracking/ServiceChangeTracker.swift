import KubeAPI

/// Records Service events between syncs and collapses them per Service (docs/userspace-behaviour.md#change-collapsing).
///
/// Event handlers call `update(previous:current:at:)` (add: `previous` nil; delete: `current`
/// nil) and nothing else: no conversion, no kernel work. The sync takes the collapsed changes
/// with `take()` (via `ProxyState.apply`).
///
/// Collapsing, per `namespace/name`: the first event fixes `previous`, later ones replace
/// `current`, and an entry whose `previous == current` is dropped. So add → {nil, s};
/// add+update → {nil, s2}; add+delete → nothing; update+update → {s, s3}; update+delete →
/// {s, nil}; delete+add → {s, s2}.
///
/// Health bookkeeping: `oldestPendingChange` is the time of the first change recorded since
/// the tracker was last empty, which `/healthz` compares with its timeout. Read it *before*
/// `take()` and keep it until the sync that carries the changes has succeeded.
public struct ServiceChangeTracker<Instant: InstantProtocol>: Sendable {
    private var pending: [NamespacedName: PendingChange<Service>] = [:]
    /// When the oldest change still pending was recorded; `nil` when nothing is pending.
    public private(set) var oldestPendingChange: Instant?

    /// Creates an empty tracker.
    public init() {}

    /// The number of Services with a pending change (the `service_changes_pending` gauge).
    public var pendingCount: Int { pending.count }

    /// The pending change of one Service, if any.
    public func pendingChange(for name: NamespacedName) -> PendingChange<Service>? {
        pending[name]
    }

    /// Records one event; returns whether anything is pending afterwards, i.e. whether the
    /// caller should request a sync. Objects without a name cannot be tracked and are ignored.
    @discardableResult
    public mutating func update(previous: Service?, current: Service?, at now: Instant) -> Bool {
        guard let key = (current ?? previous).flatMap({ NamespacedName($0.metadata) }) else { return !pending.isEmpty }
        var change = pending[key] ?? PendingChange(previous: previous, current: nil)
        change.current = current
        pending[key] = change.isNoOp ? nil : change
        if pending.isEmpty {
            oldestPendingChange = nil
        } else if oldestPendingChange == nil {
            oldestPendingChange = now
        }
        return !pending.isEmpty
    }

    /// Returns and clears every pending change.
    public mutating func take() -> [NamespacedName: PendingChange<Service>] {
        defer {
            pending = [:]
            oldestPendingChange = nil
        }
        return pending
    }
}
