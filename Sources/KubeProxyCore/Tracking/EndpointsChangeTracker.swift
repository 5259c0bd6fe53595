import KubeAPI

/// Records EndpointSlice (and legacy Endpoints) events between syncs, backed by an
/// `EndpointSliceCache` that always holds the newest accepted version of every source.
///
/// Collapsing (docs/userspace-behaviour.md#change-collapsing) is per *source* (namespace + slice name, or `endpoints:<name>`): the
/// first event fixes `previous`, later ones replace `current`, equal ends cancel out. Each
/// pending source remembers which Services it touched (a relabelled slice touches two), and
/// `take()` hands those Services to `ProxyState`, which recomputes their endpoints from the
/// cache and compares them with what it had.
///
/// A source that fails `APIValidation` is refused: the cache keeps its last accepted version,
/// the causes are reported by `take()`, and no other object is affected.
///
/// `last-change-trigger-time` annotations of accepted changes are collected for the
/// network-programming-latency metric; Core does not parse them (no date parsing here).
///
/// A valid slice of another address type is not recorded at all (upstream's dual-stack
/// meta-proxier hands each slice only to the proxier of its family): the cache ignores it
/// anyway, and holding it as a pending change kept every slice of the cluster alive in the
/// other family's tracker until that family's next sync, at the first sync's memory peak.
public struct EndpointsChangeTracker<Instant: InstantProtocol>: Sendable {
    /// A tracked object: a slice or a legacy Endpoints object.
    public enum Source: Hashable, Sendable {
        /// `discovery.k8s.io/v1` EndpointSlice.
        case slice(EndpointSlice)
        /// Legacy `v1` Endpoints.
        case endpoints(Endpoints)
    }

    /// What a sync takes from the tracker.
    public struct Changes: Sendable, Hashable {
        /// Services whose endpoints may have changed.
        public var services: Set<NamespacedName>
        /// Refused sources (by cache key) with the reasons.
        public var problems: [NamespacedName: [StatusCause]]
        /// `endpoints.kubernetes.io/last-change-trigger-time` values of accepted changes, sorted.
        public var lastChangeTriggerTimes: [String]
    }

    private struct Entry: Sendable {
        var change: PendingChange<Source>
        var services: Set<NamespacedName> = []
    }

    /// The merged endpoints, newest accepted versions.
    public private(set) var cache: EndpointSliceCache
    private var pending: [NamespacedName: Entry] = [:]
    private var problems: [NamespacedName: [StatusCause]] = [:]
    private var triggerTimes: [NamespacedName: String] = [:]
    /// When the oldest change still pending was recorded; `nil` when nothing is pending.
    public private(set) var oldestPendingChange: Instant?
    /// Whether `update` validates each object (`APIValidation`). A source that refuses invalid
    /// objects itself with the same rules (the manifest source) turns it off, so each object is
    /// checked once: at 10k slices the second check was 5 % of start-up, on the sync loop.
    public var validatesObjects = true

    /// Creates an empty tracker for `family`.
    public init(family: IPFamily) {
        self.cache = EndpointSliceCache(family: family)
    }

    /// The number of sources with a pending change (the `endpoint_changes_pending` gauge).
    public var pendingCount: Int { pending.count }

    /// Whether a sync has something to take: a pending change or a refusal to report.
    public var hasWork: Bool { !pending.isEmpty || !problems.isEmpty }

    /// Records a slice event; returns `hasWork`, i.e. whether to request a sync.
    @discardableResult
    public mutating func update(previous: EndpointSlice?, current: EndpointSlice?, at now: Instant) -> Bool {
        guard let key = (current ?? previous).flatMap(EndpointSliceCache.key(of:)) else { return hasWork }
        let causes = validatesObjects ? current.map(APIValidation.validate) ?? [] : []
        let accepted = causes.isEmpty
        let ofThisFamily = [previous, current].contains { $0?.addressType == cache.family.rawValue }
        if accepted, !ofThisFamily, !cache.holds(key), pending[key] == nil, problems[key] == nil {
            // Not in this family's cache before or after, nothing pending or refused to clear:
            // the event cannot change anything this family programs.
            return hasWork
        }
        var touched: Set<NamespacedName> = []
        if accepted {
            touched = current.map { cache.update($0) } ?? previous.map { cache.remove($0) } ?? []
        }
        record(
            key: key, previous: previous.map(Source.slice), current: current.map(Source.slice),
            annotations: current?.metadata.annotations, causes: causes, touched: touched, now: now)
        return hasWork
    }

    /// Records a legacy Endpoints event; returns `hasWork`.
    @discardableResult
    public mutating func update(previous: Endpoints?, current: Endpoints?, at now: Instant) -> Bool {
        guard let key = (current ?? previous).flatMap(EndpointSliceCache.key(of:)) else { return hasWork }
        let causes = validatesObjects ? current.map(APIValidation.validate) ?? [] : []
        var touched: Set<NamespacedName> = []
        if causes.isEmpty {
            touched = current.map { cache.update($0) } ?? previous.map { cache.remove($0) } ?? []
        }
        record(
            key: key, previous: previous.map(Source.endpoints), current: current.map(Source.endpoints),
            annotations: current?.metadata.annotations, causes: causes, touched: touched, now: now)
        return hasWork
    }

    /// The pending change of one source (by cache key), if any.
    public func pendingChange(for key: NamespacedName) -> PendingChange<Source>? {
        pending[key]?.change
    }

    /// Returns and clears the pending changes, problems and trigger times.
    public mutating func take() -> Changes {
        let changes = Changes(
            services: pending.values.reduce(into: Set()) { $0.formUnion($1.services) },
            problems: problems,
            lastChangeTriggerTimes: triggerTimes.values.sorted())
        pending = [:]
        problems = [:]
        triggerTimes = [:]
        oldestPendingChange = nil
        return changes
    }

    private mutating func record(
        key: NamespacedName, previous: Source?, current: Source?, annotations: [String: String]?,
        causes: [StatusCause], touched: Set<NamespacedName>, now: Instant
    ) {
        var entry = pending[key] ?? Entry(change: PendingChange(previous: previous, current: nil))
        entry.change.current = current
        entry.services.formUnion(touched)
        if causes.isEmpty {
            problems[key] = nil
            triggerTimes[key] = annotations?[WellKnownAnnotations.endpointsLastChangeTriggerTime]
        } else {
            problems[key] = causes
        }
        if entry.change.isNoOp {
            pending[key] = nil
            triggerTimes[key] = nil
        } else {
            pending[key] = entry
        }
        if pending.isEmpty {
            oldestPendingChange = nil
        } else if oldestPendingChange == nil {
            oldestPendingChange = now
        }
    }
}
