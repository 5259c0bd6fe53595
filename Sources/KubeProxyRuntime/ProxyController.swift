import KubeAPI
import KubeClient
import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyHost
import KubeProxyIPTables
import Logging

/// The proxier of one IP family: records source events, and at sync time turns the recorded
/// changes into a snapshot and hands the userspace plan to the data plane.
///
/// Event handling only records (docs/design.md#the-loop): no socket work happens on the event path, so a
/// burst of edits costs one sync. Until the source reports `synced`, syncs do nothing, so a
/// half-loaded state is never programmed (upstream's "services and endpoints synced" rule).
public actor ProxyController {
    private let family: IPFamily
    private var planner: UserspacePlanner
    private let nodeName: String
    private let observers: ProxyObservers
    private let portals: PortalManager?
    private let conntrack: (any ConntrackExecutor)?
    private let localAddresses: @Sendable () -> Set<IPAddress>
    private var failedClaims: Set<PortClaim> = []
    /// The service ports whose listener failed to open in the last sync, with the reason logged,
    /// so a failure repeated by every retry is logged at error level once, not once per retry.
    private var failedPorts: [ServicePortName: String] = [:]
    private let dataPlane: any UserspaceDataPlane
    private let logger: Logger
    private var services = ServiceChangeTracker<ContinuousClock.Instant>()
    private var endpoints: EndpointsChangeTracker<ContinuousClock.Instant>
    private var state: ProxyState
    private var initialized = false
    private var firstSyncDone = false

    /// Creates a controller for `family` on node `nodeName`.
    public init(
        nodeName: String, family: IPFamily, dataPlane: any UserspaceDataPlane, observers: ProxyObservers = ProxyObservers(),
        portals: PortalManager? = nil, conntrack: (any ConntrackExecutor)? = nil, preferredPorts: [String: Int] = [:],
        localAddresses: @escaping @Sendable () -> Set<IPAddress> = { (try? LocalAddresses.current()) ?? [] },
        logger: Logger
    ) {
        self.localAddresses = localAddresses
        self.portals = portals
        self.conntrack = conntrack
        self.family = family
        self.nodeName = nodeName
        self.observers = observers
        self.planner = UserspacePlanner(topology: NodeTopology(nodeName: nodeName))
        self.planner.preferredPorts = preferredPorts
        self.dataPlane = dataPlane
        self.logger = logger
        self.endpoints = EndpointsChangeTracker(family: family)
        self.state = ProxyState(family: family)
    }

    /// Records one event; returns whether a sync should be requested.
    public func handle(_ event: SourceEvent) -> Bool {
        let wantsSync = record(event)
        if wantsSync {
            observers.health?.queued(family)
            observers.metrics?.syncQueued(family: family, at: .now)
        }
        observers.metrics?.pendingChanges(services: services.pendingCount, endpoints: endpoints.pendingCount)
        return wantsSync
    }

    private func record(_ event: SourceEvent) -> Bool {
        let now = ContinuousClock.now
        let changed: Bool
        switch event {
        case .service(let change):
            changed = services.update(previous: change.old, current: change.new, at: now)
        case .endpointSlice(let change):
            changed = endpoints.update(previous: change.old, current: change.new, at: now)
        case .endpoints(let change):
            changed = endpoints.update(previous: change.old, current: change.new, at: now)
        case .node(let change):
            observers.health?.nodeChanged(change.new)
            return false
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
    /// must be retried (a listener that could not be opened, or a port claim that failed), so
    /// the scheduler retries after its short backoff rather than at the next periodic sync.
    /// A failed claim alone still counts as programmed for health and metrics: the rules that
    /// were written are right, the taken port is left out on purpose.
    public func sync() async -> Bool {
        guard initialized else { return true }
        let started = ContinuousClock.now
        observers.metrics?.changesTaken(services: services.pendingCount, endpoints: endpoints.pendingCount)
        let delta = state.apply(services: &services, endpoints: &endpoints)
        observers.metrics?.pendingChanges(services: 0, endpoints: 0)
        report(delta)
        let snapshot = state.snapshot
        let plan = planner.update(snapshot: snapshot, delta: delta)
        let changes = await dataPlane.apply(plan)
        var ok = true
        var failedNow: [ServicePortName: String] = [:]
        for change in changes {
            log(change, repeated: change.kind == .failed && failedPorts[change.name] == change.reason)
            if change.kind == .failed {
                ok = false
                failedNow[change.name] = change.reason
            }
        }
        failedPorts = failedNow
        observers.health?.unserved(family, reason: await dataPlane.unservedPorts().map { "\($0)" })
        if portals != nil { await updateClaims(snapshot) }
        if !(await programPortals(snapshot)) { ok = false }
        await flushConntrack(removed: delta.removedServicePorts)
        await observe(snapshot: snapshot, delta: delta, succeeded: ok, started: started)
        let claimsHeld = failedClaims.isEmpty
        if ok && !firstSyncDone {
            firstSyncDone = true
            logger.info(
                "first sync complete",
                metadata: [
                    "servicePorts": "\(snapshot.servicePorts.count)",
                    "duration": "\(GoDuration.format(ContinuousClock.now - started))",
                ])
        }
        return ok && claimsHeld
    }

    /// Points the kernel's portal rules at the listeners' current ports; false on failure.
    private func programPortals(_ snapshot: ProxySnapshot) async -> Bool {
        guard let portals else { return true }
        let listening = await dataPlane.listenerPorts()
        // Unsorted: the manager keys ports by name, and sorting 10k names every sync costs.
        let ports = snapshot.servicePorts.values.compactMap { port in
            listening[port.name].map { PortalServicePort(servicePort: withoutFailedClaims(port), proxyPort: $0) }
        }
        do {
            try await portals.sync(ports)
            return true
        } catch {
            logger.error("failed to program the portal rules; will retry", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Holds NodePorts and local external/LoadBalancer IP ports with idle sockets
    /// (docs/userspace-behaviour.md#port-claims), so no other program takes a port our rules redirect. A port someone else holds
    /// is reported on its Service and gets no rule (we would otherwise steal its traffic); the
    /// claim is retried every sync, and `sync` reports the failure so a retry comes soon.
    private func updateClaims(_ snapshot: ProxySnapshot) async {
        let local = localAddresses()
        var desired: Set<PortClaim> = []
        for port in snapshot.servicePorts.values {
            if port.nodePort != 0 {
                desired.insert(PortClaim(address: nil, port: port.nodePort, protocol: port.protocol, owner: port.name))
            }
            for ip in port.externalIPs + port.loadBalancerIPs where local.contains(ip) {
                desired.insert(PortClaim(address: ip, port: port.port, protocol: port.protocol, owner: port.name))
            }
        }
        var failed: Set<PortClaim> = []
        for result in await dataPlane.updateClaims(desired) where result.isFailure {
            failed.insert(result.claim)
            if !failedClaims.contains(result.claim) {
                logger.error(
                    "port claim failed; its portal rule is left out until the port is free",
                    metadata: ["servicePort": "\(result.claim.owner)", "problem": "\(result)"])
            }
        }
        for claim in failedClaims.subtracting(failed) where desired.contains(claim) {
            logger.info("port claim succeeded after an earlier failure", metadata: ["servicePort": "\(claim.owner)", "claim": "\(claim)"])
        }
        failedClaims = failed
    }

    /// `port` without the node port and local IPs whose claim failed.
    private func withoutFailedClaims(_ port: ServicePort) -> ServicePort {
        guard !failedClaims.isEmpty else { return port }
        var port = port
        let failed = failedClaims.filter { $0.owner == port.name }
        if failed.contains(where: { $0.address == nil && $0.port == port.nodePort }) { port.nodePort = 0 }
        let failedIPs = Set(failed.compactMap(\.address))
        port.externalIPs.removeAll { failedIPs.contains($0) }
        port.loadBalancerIPs.removeAll { failedIPs.contains($0) }
        return port
    }

    /// As upstream (docs/userspace-behaviour.md#udp-removal): a removed UDP service port's cluster IP loses its conntrack entries, so
    /// long-lived flows do not keep steering at a closed proxy port.
    private func flushConntrack(removed: [ServicePortName: ServicePort]) async {
        guard let conntrack else { return }
        let clusterIPs = Set(removed.values.filter { $0.protocol == .udp }.map(\.clusterIP))
        for ip in clusterIPs.sorted() {
            do {
                try await conntrack.deleteUDPFlows(destination: ip)
            } catch {
                logger.warning("could not flush UDP conntrack entries", metadata: ["clusterIP": "\(ip)", "error": "\(error)"])
            }
        }
    }

    /// Health, metrics and per-service health checks after a sync.
    private func observe(snapshot: ProxySnapshot, delta: SyncDelta, succeeded: Bool, started: ContinuousClock.Instant) async {
        guard observers.health != nil || observers.metrics != nil || observers.serviceHealth != nil else { return }
        let facts = LocalEndpointFacts(snapshot: snapshot, nodeName: nodeName)
        if succeeded {
            observers.health?.updated(family)
            if let metrics = observers.metrics {
                metrics.syncCompleted(duration: ContinuousClock.now - started, family: family, at: .now)
                let unparsable = metrics.networkProgrammingLatency(
                    triggerTimes: delta.lastChangeTriggerTimes, family: family, now: .now)
                for value in unparsable {
                    logger.debug("ignoring an unparsable last-change-trigger-time", metadata: ["value": "\(value)"])
                }
                metrics.noLocalEndpoints(
                    internal: facts.internalWithoutLocal, external: facts.externalWithoutLocal, family: family)
            }
        }
        if let serviceHealth = observers.serviceHealth {
            for failure in await serviceHealth.update(facts.healthChecks) {
                logger.error("health check server failed to open; will retry", metadata: ["problem": "\(failure)"])
            }
        }
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

    /// Logs one change; a failure `repeated` from the previous sync with the same reason goes to
    /// debug level, so a lasting condition is not logged once per port per retry.
    private func log(_ change: DataPlaneChange, repeated: Bool = false) {
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
        case .failed where repeated: logger.debug("service port still fails to open; will retry", metadata: metadata)
        case .failed: logger.error("service port failed to open; will retry", metadata: metadata)
        case .unsupported: logger.warning("service port not proxied", metadata: metadata)
        }
    }
}
