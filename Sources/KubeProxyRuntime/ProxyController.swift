import KubeAPI
import KubeClient
import KubeProxyCore
import KubeProxyDataPlane
import Logging

/// The proxier of one IP family: records source events, and at sync time turns the recorded
/// changes into a snapshot and hands the userspace plan to the data plane.
///
/// Event handling only records (DESIGN.md §1): no socket work happens on the event path, so a
/// burst of edits costs one sync. Until the source reports `synced`, syncs do nothing, so a
/// half-loaded state is never programmed (upstream's "services and endpoints synced" rule).
public actor ProxyController {
    private let family: IPFamily
    private var planner: UserspacePlanner
    private let dataPlane: any UserspaceDataPlane
    private let logger: Logger
    private var services = ServiceChangeTracker<ContinuousClock.Instant>()
    private var endpoints: EndpointsChangeTracker<ContinuousClock.Instant>
    private var state: ProxyState
    private var initialized = false
    private var lastProblems: [String: String] = [:]

    /// Creates a controller for `family` on node `nodeName`.
    public init(nodeName: String, family: IPFamily, dataPlane: any UserspaceDataPlane, logger: Logger) {
        self.family = family
        self.planner = UserspacePlanner(topology: NodeTopology(nodeName: nodeName))
        self.dataPlane = dataPlane
        self.logger = logger
        self.endpoints = EndpointsChangeTracker(family: family)
        self.state = ProxyState(family: family)
    }

    /// Records one event; returns whether a sync should be requested.
    public func handle(_ event: SourceEvent) -> Bool {
        let now = ContinuousClock.now
        let changed: Bool
        switch event {
        case .service(let change):
            changed = services.update(previous: change.old, current: change.new, at: now)
        case .endpointSlice(let change):
            changed = endpoints.update(previous: change.old, current: change.new, at: now)
        case .endpoints(let change):
            changed = endpoints.update(previous: change.old, current: change.new, at: now)
        case .synced:
            if !initialized { logger.info("initial Services and endpoints loaded; starting to sync") }
            initialized = true
            return true
        }
        return changed && initialized
    }

    /// Whether the initial contents have been loaded.
    public var isInitialized: Bool { initialized }

    /// The current desired state (for tests and, later, health and metrics).
    public var snapshot: ProxySnapshot { state.snapshot }

    /// One sync: apply pending changes, program the data plane. Returns false when something
    /// must be retried (a listener that could not be opened).
    public func sync() async -> Bool {
        guard initialized else { return true }
        let delta = state.apply(services: &services, endpoints: &endpoints)
        report(delta)
        let plan = planner.update(snapshot: state.snapshot, delta: delta)
        let changes = await dataPlane.apply(plan)
        var ok = true
        for change in changes {
            log(change)
            if change.kind == .failed { ok = false }
        }
        return ok
    }

    private func report(_ delta: SyncDelta) {
        for (service, causes) in delta.serviceProblems.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "Service refused; keeping its last good state",
                metadata: ["service": "\(service)", "problems": "\(Self.describe(causes))"])
        }
        for (source, causes) in delta.endpointProblems.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "endpoints refused; keeping their last good state",
                metadata: ["source": "\(source)", "problems": "\(Self.describe(causes))"])
        }
    }

    static func describe(_ causes: [StatusCause]) -> String {
        causes.map { cause in
            [cause.field, cause.message].compactMap { $0 }.joined(separator: ": ")
        }.joined(separator: "; ")
    }

    private func log(_ change: DataPlaneChange) {
        var metadata: Logger.Metadata = [
            "servicePort": "\(change.name)",
            "protocol": "\(change.name.protocol)",
            "endpoints": "\(change.endpointCount)",
        ]
        if let port = change.port {
            metadata["listen"] = "\(change.listenAddress.bracketedDescription):\(port)"
        }
        if !change.reason.isEmpty { metadata["reason"] = "\(change.reason)" }
        switch change.kind {
        case .started: logger.info("service port started", metadata: metadata)
        case .updated: logger.info("service port changed", metadata: metadata)
        case .stopped: logger.info("service port stopped", metadata: metadata)
        case .failed: logger.error("service port failed to open; will retry", metadata: metadata)
        case .unsupported: logger.warning("service port not proxied", metadata: metadata)
        }
    }
}
