import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyHost
import KubeProxyIPTables
import Logging
import ServiceLifecycle

/// What one userspace sync programs: listeners, and the inputs of port claims and portal rules.
///
/// The portal rules themselves are not in the plan: they point at the proxy ports the sockets
/// get, which only `apply` learns (the kernel may choose them). So `apply` runs two phases —
/// listeners first, then claims and rules from the ports they got — instead of a round trip
/// through the loop.
public struct UserspacePlan: Sendable, Hashable {
    /// Every service port's listener with its cluster-policy endpoints.
    public var listeners: [ServicePortName: ProxiedPort]
    /// The snapshot's service ports: node ports and local IPs to claim, portal rule inputs.
    public var servicePorts: [ServicePortName: ServicePort]
    /// Cluster IPs of removed UDP service ports, sorted, whose conntrack entries are flushed
    /// (docs/userspace-behaviour.md#udp-removal).
    public var removedUDPClusterIPs: [IPAddress]
    /// UDP service ports whose endpoints or port went away (reported in the outcome).
    public var staleUDPServicePorts: Set<ServicePortName>
    /// The service ports whose listener entry may differ from the previous plan's (the
    /// delta's), so the data plane looks at those only; `nil`: compare every listener.
    public var changed: Set<ServicePortName>?

    /// Creates a plan.
    public init(
        listeners: [ServicePortName: ProxiedPort], servicePorts: [ServicePortName: ServicePort],
        removedUDPClusterIPs: [IPAddress] = [], staleUDPServicePorts: Set<ServicePortName> = [],
        changed: Set<ServicePortName>? = nil
    ) {
        self.listeners = listeners
        self.servicePorts = servicePorts
        self.removedUDPClusterIPs = removedUDPClusterIPs
        self.staleUDPServicePorts = staleUDPServicePorts
        self.changed = changed
    }
}

/// The userspace mode: our own sockets per service port, plus (as root) portal rules that
/// redirect cluster, node and external IPs to them.
///
/// Owns the incremental `UserspacePlanner`, the data plane, port claims with their failure
/// bookkeeping, the `PortalManager` and the conntrack flush of removed UDP cluster IPs, and
/// logs each lasting failure once rather than once per retry.
public actor UserspaceBackend: ProxyBackend {
    private var planner: UserspacePlanner
    private let dataPlane: any UserspaceDataPlane
    private let portals: PortalManager?
    private let conntrack: (any ConntrackExecutor)?
    private let localAddresses: @Sendable () -> Set<IPAddress>
    private let logger: Logger
    private var failedClaims: Set<PortClaim> = []
    /// The service ports whose listener failed to open in the last sync, with the reason logged,
    /// so a failure repeated by every retry is logged at error level once, not once per retry.
    private var failedPorts: [ServicePortName: String] = [:]
    /// Each service port's claims (node port, local external/LB IPs) as of the last sync,
    /// and the local addresses they were worked out with: a sync recomputes only its changed
    /// ports' claims unless the local addresses changed.
    private var claimsByPort: [ServicePortName: [PortClaim]] = [:]
    private var claimAddresses: Set<IPAddress>?
    /// The portal rule input of every service port with a listener, as last handed to the
    /// portal manager; a sync refreshes only the ports whose input may have changed.
    private var portalInputs: [ServicePortName: PortalServicePort] = [:]
    /// The statistics reporter, when the builder wants one (see `auxiliaryServices`).
    public nonisolated let auxiliaryServices: [any ServiceLifecycle.Service]

    /// Creates the backend for node `nodeName`. `portals` nil serves the sockets only;
    /// `preferredPorts` are proxy ports by `ns/name:port` to re-use (normally read by `start`).
    public init(
        nodeName: String, dataPlane: any UserspaceDataPlane, portals: PortalManager? = nil,
        conntrack: (any ConntrackExecutor)? = nil, preferredPorts: [String: Int] = [:],
        localAddresses: @escaping @Sendable () -> Set<IPAddress> = { (try? LocalAddresses.current()) ?? [] },
        auxiliaryServices: [any ServiceLifecycle.Service] = [], logger: Logger
    ) {
        self.planner = UserspacePlanner(topology: NodeTopology(nodeName: nodeName))
        self.planner.preferredPorts = preferredPorts
        self.dataPlane = dataPlane
        self.portals = portals
        self.conntrack = conntrack
        self.localAddresses = localAddresses
        self.auxiliaryServices = auxiliaryServices
        self.logger = logger
    }

    /// Re-uses the proxy ports the portal rules of a previous run point at, so a restart leaves
    /// no window without working rules. An unreadable rule set is a warning: fresh ports.
    public func start() async {
        guard let portals else { return }
        do {
            let previous = try await portals.start()
            planner.preferredPorts.merge(previous) { _, found in found }
        } catch {
            logger.warning(
                "could not read the existing portal rules; starting with fresh proxy ports", metadata: ["error": "\(error)"])
        }
    }

    /// The listeners from the incremental planner, and the snapshot's ports for claims and rules.
    public func plan(snapshot: ProxySnapshot, delta: SyncDelta) -> UserspacePlan {
        let removedUDP = delta.removedServicePorts.values.filter { $0.protocol == .udp }
        return UserspacePlan(
            listeners: planner.update(snapshot: snapshot, delta: delta), servicePorts: snapshot.servicePorts,
            removedUDPClusterIPs: Set(removedUDP.map(\.clusterIP)).sorted(),
            staleUDPServicePorts: delta.staleUDPServicePorts(in: snapshot), changed: UserspacePlanner.touched(by: delta))
    }

    /// Phase 1: listeners. Phase 2: port claims, then portal rules at the ports the listeners
    /// got. Then the conntrack flush. A listener or portal failure fails the sync; a failed
    /// claim only asks for a retry (the rules written are right, the taken port is left out).
    ///
    /// The listeners' changes are logged while `iptables-restore` runs: at the first sync of
    /// 10,000 service ports that is 10,000 lines, which used to delay the restore.
    public func apply(_ plan: UserspacePlan) async -> SyncOutcome {
        var failures: [String] = []
        var failedNow: [ServicePortName: String] = [:]
        // Ports whose listener may have moved: the plan's changes, and any port the data plane
        // reports on (a retried listener that opened, one that failed).
        var moved = plan.changed
        let changes = await dataPlane.apply(plan.listeners, changed: plan.changed)
        for change in changes {
            if change.kind == .failed { failedNow[change.name] = change.reason }
            moved?.insert(change.name)
        }
        let failedBefore = failedPorts
        failedPorts = failedNow
        if !failedNow.isEmpty { failures.append("\(failedNow.count) service port(s) failed to open") }
        let unserved = await dataPlane.unservedPorts()
        var kind = SyncOutcome.Kind.partial
        if let portals {
            let claimsChanged = await updateClaims(plan.servicePorts, changed: plan.changed)
            moved?.formUnion(claimsChanged)
            await refreshPortalInputs(plan.servicePorts, changed: moved)
            // Copies, so the child task needs nothing of this actor while it logs.
            let inputs = portalInputs
            let changedNow = moved
            async let programmed = portals.sync(inputs, changed: changedNow)
            log(changes, failedBefore: failedBefore)
            do {
                kind = try await programmed
            } catch {
                logger.error("failed to program the portal rules; will retry", metadata: ["error": "\(error)"])
                failures.append("portal rules: \(error)")
            }
        } else {
            log(changes, failedBefore: failedBefore)
        }
        await flushConntrack(plan.removedUDPClusterIPs)
        let result: SyncOutcome.Result
        if !failures.isEmpty {
            result = .failed(reason: failures.joined(separator: "; "))
        } else if !failedClaims.isEmpty {
            result = .programmedWithRetry(reason: "\(failedClaims.count) port claim(s) failed")
        } else {
            result = .succeeded
        }
        return SyncOutcome(
            result: result, kind: kind, unservedReason: unserved.map { "\($0)" },
            staleUDPServicePorts: plan.staleUDPServicePorts)
    }

    /// Closes the listeners, letting open connections finish for up to `drainTimeout`.
    public func shutdown(drainTimeout: Duration) async {
        await dataPlane.shutdown(drainTimeout: drainTimeout)
    }

    /// Removes the portal chains and jumps of both families. Throws when a family's tools
    /// exist but the removal failed.
    public static func cleanup(logger: Logger) async throws {
        var failures: [String] = []
        for family in IPFamily.allCases {
            let executor = SystemIPTables(logger: logger)
            guard executor.runner.locate(SystemIPTables.saveTool(family)) != nil else {
                logger.info("cleanup: \(SystemIPTables.saveTool(family)) not installed; nothing to remove for \(family)")
                continue
            }
            let manager = PortalManager(
                executor: executor,
                renderer: UserspacePortalRenderer(
                    listenIP: family == .ipv4 ? .v4(0) : .v6(0, 0), hostIP: family == .ipv4 ? .v4(0) : .v6(0, 0), family: family),
                fullResyncPeriod: .seconds(30), logger: logger)
            do {
                try await manager.cleanup()
                logger.info("cleanup: removed userspace portal chains and jumps", metadata: ["family": "\(family)"])
            } catch {
                logger.error("cleanup failed", metadata: ["family": "\(family)", "error": "\(error)"])
                failures.append("\(family): \(error)")
            }
        }
        if !failures.isEmpty {
            throw KubeProxyConfiguration.Problem(field: "--cleanup", message: failures.joined(separator: "; "))
        }
    }

    /// Points the portal rule inputs at the listeners' current ports.
    ///
    /// Only the ports in `changed` get a new input (`nil`: all of them); the manager then
    /// compares those alone unless it takes its full path.
    private func refreshPortalInputs(_ servicePorts: [ServicePortName: ServicePort], changed: Set<ServicePortName>?) async {
        guard let changed else {
            let listening = await dataPlane.listenerPorts()
            portalInputs = [:]
            for (name, proxyPort) in listening {
                guard let port = servicePorts[name] else { continue }
                portalInputs[name] = PortalServicePort(servicePort: withoutFailedClaims(port), proxyPort: proxyPort)
            }
            return
        }
        let listening = await dataPlane.listenerPorts(of: changed)
        for name in changed {
            guard let port = servicePorts[name], let proxyPort = listening[name] else {
                portalInputs[name] = nil
                continue
            }
            portalInputs[name] = PortalServicePort(servicePort: withoutFailedClaims(port), proxyPort: proxyPort)
        }
    }

    /// Holds NodePorts and local external/LoadBalancer IP ports with idle sockets
    /// (docs/userspace-behaviour.md#port-claims), so no other program takes a port our rules redirect. A port someone else holds
    /// is reported on its Service and gets no rule (we would otherwise steal its traffic); the
    /// claim is retried every sync, and the outcome asks for a retry soon.
    ///
    /// Only the ports in `changed` are looked at again (`nil`, or new local addresses: all of
    /// them). Returns the owners whose claims failed or recovered, whose portal input changes.
    private func updateClaims(
        _ servicePorts: [ServicePortName: ServicePort], changed: Set<ServicePortName>?
    ) async -> Set<ServicePortName> {
        let local = localAddresses()
        if let changed, local == claimAddresses {
            for name in changed { claimsByPort[name] = servicePorts[name].flatMap { Self.claims(of: $0, local: local) } }
        } else {
            claimsByPort = servicePorts.compactMapValues { Self.claims(of: $0, local: local) }
        }
        claimAddresses = local
        let desired = claimsByPort.values.reduce(into: Set<PortClaim>()) { $0.formUnion($1) }
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
        defer { failedClaims = failed }
        return Set(failedClaims.symmetricDifference(failed).map(\.owner))
    }

    /// The claims `port` needs with `local` as this host's addresses; `nil` when none.
    private static func claims(of port: ServicePort, local: Set<IPAddress>) -> [PortClaim]? {
        var claims: [PortClaim] = []
        if port.nodePort != 0 {
            claims.append(PortClaim(address: nil, port: port.nodePort, protocol: port.protocol, owner: port.name))
        }
        for ip in port.externalIPs + port.loadBalancerIPs where local.contains(ip) {
            claims.append(PortClaim(address: ip, port: port.port, protocol: port.protocol, owner: port.name))
        }
        return claims.isEmpty ? nil : claims
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
    private func flushConntrack(_ clusterIPs: [IPAddress]) async {
        guard let conntrack else { return }
        for ip in clusterIPs {
            do {
                try await conntrack.deleteUDPFlows(destination: ip)
            } catch {
                logger.warning("could not flush UDP conntrack entries", metadata: ["clusterIP": "\(ip)", "error": "\(error)"])
            }
        }
    }

    /// Logs the listeners' changes; a failure repeated from the previous sync with the same
    /// reason goes to debug level, so a lasting condition is not logged once per port per retry.
    private func log(_ changes: [DataPlaneChange], failedBefore: [ServicePortName: String]) {
        for change in changes {
            log(change, repeated: change.kind == .failed && failedBefore[change.name] == change.reason)
        }
    }

    /// Logs one change (`repeated`: see `log(_:failedBefore:)`).
    private func log(_ change: DataPlaneChange, repeated: Bool) {
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
