import Foundation
import KubeAPI
import KubeClient
import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyHost
import KubeProxyIPTables
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Turns a configuration value into a running proxy: the one place that knows every module.
///
/// The executable calls `validate` (flag errors become usage errors) and then `run()`;
/// tests build the same thing with an in-memory configuration.
public struct ProxyBuilder: Sendable {
    /// What to run.
    public let configuration: KubeProxyConfiguration
    /// The root logger; modules get children of it.
    public let logger: Logger

    /// Creates a builder.
    public init(configuration: KubeProxyConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// How long open connections may finish after SIGTERM before they are closed.
    public static let drainTimeout: Duration = .seconds(10)

    /// Problems only the runtime can see (values that need a module's parser), naming the flag.
    public static func validate(_ configuration: KubeProxyConfiguration) -> [KubeProxyConfiguration.Problem] {
        var problems: [KubeProxyConfiguration.Problem] = []
        do {
            _ = try PortRange.parse(configuration.portRange)
        } catch {
            problems.append(.init(field: "--proxy-port-range", message: error.description))
        }
        return problems
    }

    /// Every proxied connection costs two descriptors and every service port one listener, so
    /// the soft limit is raised to the hard limit (and, as root, both to at least 64,000 like
    /// upstream; unlike upstream a higher existing limit is never lowered).
    static func raiseOpenFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            logger.warning("cannot read the open file limit", metadata: ["errno": "\(errno)"])
            return
        }
        let wanted: rlim_t = 64000
        var raised = limit
        if geteuid() == 0 && raised.rlim_max < wanted { raised.rlim_max = wanted }
        raised.rlim_cur = max(raised.rlim_cur, raised.rlim_max)
        var softOnly = limit
        softOnly.rlim_cur = limit.rlim_max
        // Containers often forbid raising the hard limit even to root: then take the hard limit.
        var effective = limit
        var failure: Int32 = 0
        if raised.rlim_cur == limit.rlim_cur && raised.rlim_max == limit.rlim_max {
            effective = limit
        } else if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 {
            effective = raised
        } else {
            failure = errno
            if softOnly.rlim_cur != limit.rlim_cur && setrlimit(Int32(RLIMIT_NOFILE.rawValue), &softOnly) == 0 {
                effective = softOnly
            }
        }
        let metadata: Logger.Metadata = [
            "soft": "\(effective.rlim_cur)", "hard": "\(effective.rlim_max)", "wanted": "\(wanted)",
            "errno": "\(failure)",
        ]
        if effective.rlim_cur < wanted {
            // Below the wanted limit the listener capacity shrinks: say so where operators look.
            logger.warning(
                "open file limit is below \(wanted) and could not be raised; fewer service ports and connections fit",
                metadata: metadata)
        } else if effective.rlim_cur != limit.rlim_cur {
            logger.debug("raised the open file limit", metadata: metadata)
        }
    }

    /// The node name: `--hostname-override`, else the host name, lower-cased as upstream does.
    public static func nodeName(_ configuration: KubeProxyConfiguration) -> String {
        if !configuration.hostnameOverride.isEmpty { return configuration.hostnameOverride.lowercased() }
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).lowercased()
    }

    /// Runs until SIGTERM/SIGINT (graceful) or a fatal error.
    public func run() async throws {
        let problems = configuration.validate() + Self.validate(configuration)
        if let first = problems.first { throw first }
        Self.raiseOpenFileLimit(logger: logger)
        let nodeName = Self.nodeName(configuration)
        let eventLoops = configuration.proxyEventLoops > 0 ? configuration.proxyEventLoops : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, eventLoops))
        let registry = PrometheusCollectorRegistry()
        let metrics = ProxyMetrics(registry: registry)
        let dataPlaneMetrics = DataPlaneMetrics(perServicePort: configuration.metricsPerServicePort)
        let health = HealthHolder(syncPeriod: configuration.modeSyncPeriod)
        let serviceHealth = ServiceHealthServers(
            addresses: configuration.nodePortAddresses.compactMap {
                CIDR($0).flatMap { $0.prefixLength == ($0.address.family == .ipv4 ? 32 : 128) ? $0.address : nil }
            },
            family: configuration.bindAddress.family, health: health, group: group, logger: logger.child("healthcheck"))
        let families = Self.families(configuration)
        var nfacctMetrics: NFAcctMetrics?
        if configuration.mode == .iptables {
            for family in families { metrics.registerIPTablesCounters(family: family) }
            let nfacct = SystemNFAcct()
            if IPTablesBackend.ensureNFAcctObjects(nfacct, logger: logger.child("iptables")) {
                nfacctMetrics = NFAcctMetrics(client: nfacct, logger: logger.child("metrics"))
            }
        }
        var context = BackendContext(
            configuration: configuration, nodeName: nodeName, family: families[0], group: group,
            dataPlaneMetrics: dataPlaneMetrics, logger: logger)
        context.nfacctMetrics = nfacctMetrics
        let backend: any ProxyBackend
        do {
            backend = try await Self.backend(for: context)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await run(
            backend: backend, context: context, families: families, health: health, metrics: metrics,
            serviceHealth: serviceHealth, registry: registry, dataPlaneMetrics: dataPlaneMetrics, nfacctMetrics: nfacctMetrics)
    }

    /// Runs `first` (the backend of `families[0]`) and one more backend of the same mode per
    /// further family, each behind its own sync loop, with one source, one scheduler and the
    /// HTTP servers, until shutdown. Generic so the loops are specialised for the mode's plan type.
    ///
    /// Dual-stack in one process: every loop sees every event and keeps the addresses of its
    /// own family (upstream runs one proxier per family behind a "meta proxier"; here the loops
    /// share the source and the scheduler, so a change costs one sync of each).
    private func run<Backend: ProxyBackend>(
        backend first: Backend, context: BackendContext, families: [IPFamily], health: HealthHolder,
        metrics: ProxyMetrics, serviceHealth: ServiceHealthServers, registry: PrometheusCollectorRegistry,
        dataPlaneMetrics: DataPlaneMetrics, nfacctMetrics: NFAcctMetrics?
    ) async throws {
        let nodeName = context.nodeName
        let group = context.group
        let conntrack = Self.conntrackReconciler(configuration, metrics: metrics, logger: logger)
        var made: [SyncLoop<Backend, ContinuousClock>] = []
        do {
            for family in families {
                var backend = first
                if family != families[0] {
                    var familyContext = context
                    familyContext.family = family
                    guard let other = try await Self.backend(for: familyContext) as? Backend else {
                        throw KubeProxyConfiguration.Problem(
                            field: "--proxy-mode", message: "the \(family) backend is not of the \(families[0]) backend's type")
                    }
                    backend = other
                }
                let loop = SyncLoop(
                    nodeName: nodeName, family: family, backend: backend, clock: ContinuousClock(),
                    observers: ProxyObservers(
                        health: health, metrics: metrics, serviceHealth: family == families[0] ? serviceHealth : nil,
                        syncOutcome: Self.kernelModeMetrics(configuration.mode, metrics: metrics), conntrack: conntrack),
                    // The manifest source validates every object with the same rules.
                    sourceValidates: !configuration.manifests.isEmpty, logger: logger.child("proxier"))
                made.append(loop)
                try await loop.start()
            }
        } catch {
            for loop in made { await loop.shutdown(drainTimeout: .zero) }
            try? await group.shutdownGracefully()
            throw error
        }
        let loops = made
        let runner = SyncRunner(
            clock: ContinuousClock(),
            configuration: .init(minSyncPeriod: configuration.modeMinSyncPeriod, syncPeriod: configuration.modeSyncPeriod),
            sync: {
                var ok = true
                for loop in loops {
                    if !(await loop.sync()) { ok = false }
                }
                return ok
            })
        let portRange: PortRange? = (try? PortRange.parse(configuration.portRange)) ?? nil
        let source: any ObjectSource
        do {
            source = try Self.source(configuration, nodeName: nodeName, logger: logger)
        } catch {
            for loop in loops { await loop.shutdown(drainTimeout: .zero) }
            try? await group.shutdownGracefully()
            throw error
        }

        logger.info(
            "starting kube-proxy",
            metadata: [
                "version": "\(KubeProxyVersion.string)", "mode": "\(configuration.mode.rawValue)", "node": "\(nodeName)",
                "bindAddress": "\(configuration.bindAddress)", "families": "\(families.map(\.rawValue).joined(separator: ","))",
                "portRange": "\(portRange?.description ?? "kernel")",
                "source": "\(source)",
            ])
        var services: [any ServiceLifecycle.Service] = [
            SourceService(
                source: source,
                handle: { events in
                    var wanted = false
                    for loop in loops {
                        if await loop.handle(events) { wanted = true }
                    }
                    return wanted
                }, runner: runner),
            SyncService(runner: runner),
        ]
        services += first.auxiliaryServices
        let retry: Duration? = configuration.bindAddressHardFail ? nil : .seconds(5)
        if let address = HostPort(configuration.healthzBindAddress) {
            services.append(
                HealthServer(
                    address: address, health: health, metrics: metrics, group: group, logger: logger.child("healthz"),
                    bindRetryInterval: retry))
        }
        if let address = HostPort(configuration.metricsBindAddress) {
            services.append(
                MetricsServer(
                    address: address, registry: registry, dataPlane: dataPlaneMetrics, nfacct: nfacctMetrics, group: group,
                    logger: logger.child("metrics"),
                    bindRetryInterval: retry))
        }
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services.map {
                    .init(
                        service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        var failure: (any Error)?
        do {
            try await serviceGroup.run()
        } catch {
            failure = error
        }
        logger.info(
            "shutting down: listeners closed, letting open connections finish",
            metadata: ["drainTimeout": "\(GoDuration.format(Self.drainTimeout))"])
        for loop in loops { await loop.shutdown(drainTimeout: Self.drainTimeout) }
        await serviceHealth.shutdown()
        try? await group.shutdownGracefully()
        if let failure { throw failure }
    }
}

extension ProxyBuilder {
    /// The IP families to program: the bind address's for userspace mode (its sockets and
    /// portals are of one family); for the kernel modes IPv4, and IPv6 too when this host has
    /// it (both from one process, as upstream's dual-stack "meta proxier").
    static func families(_ configuration: KubeProxyConfiguration) -> [IPFamily] {
        guard configuration.mode != .userspace else { return [configuration.bindAddress.family] }
        return FileManager.default.fileExists(atPath: "/proc/net/if_inet6") ? [.ipv4, .ipv6] : [.ipv4]
    }

    /// The UDP conntrack cleaner of the kernel modes, or nil (userspace mode cleans its own;
    /// without the `conntrack` tool stale UDP flows only expire, which is said once).
    static func conntrackReconciler(
        _ configuration: KubeProxyConfiguration, metrics: ProxyMetrics, logger: Logger
    ) -> ConntrackReconciler? {
        guard configuration.mode != .userspace else { return nil }
        let conntrack = SystemConntrack()
        guard conntrack.isAvailable else {
            logger.warning(
                "conntrack is not installed (package conntrack): UDP flows to removed endpoints are not cleared and only expire")
            return nil
        }
        return ConntrackReconciler(executor: conntrack, metrics: metrics, logger: logger.child("conntrack"))
    }

    /// Why portals cannot be installed here, or nil when they can (root, iptables, a
    /// non-loopback bind address).
    static func portalsUnavailableReason(_ configuration: KubeProxyConfiguration, executor: SystemIPTables) -> String? {
        if !configuration.userspacePortals { return "disabled by --userspace-portals=false" }
        if configuration.bindAddress.isLoopback {
            return "--bind-address \(configuration.bindAddress) is a loopback address, which REDIRECT/DNAT cannot reach"
        }
        if geteuid() != 0 { return "not running as root" }
        let tool = SystemIPTables.restoreTool(configuration.bindAddress.family)
        if executor.runner.locate(tool) == nil { return "\(tool) is not installed (package iptables)" }
        return nil
    }

    /// The portal manager when portals can be installed; otherwise logs once why not and
    /// returns nil, and the proxy serves its sockets only (reachable on the bind address and
    /// the proxy ports, not on cluster IPs).
    static func portalManager(_ configuration: KubeProxyConfiguration, logger: Logger) async throws -> PortalManager? {
        let family = configuration.bindAddress.family
        let executor = SystemIPTables(logger: logger)
        if let reason = portalsUnavailableReason(configuration, executor: executor) {
            logger.warning(
                "userspace portals are off: \(reason); serving the proxy sockets only, so cluster, node and external IPs are not intercepted"
            )
            return nil
        }
        let hostIP: IPAddress
        if configuration.bindAddress.isUnspecified {
            do {
                hostIP = try LocalAddresses.primaryAddress(family: family)
            } catch {
                throw KubeProxyConfiguration.Problem(
                    field: "--bind-address", message: "failed to select a host interface for portal DNAT: \(error)")
            }
        } else {
            hostIP = configuration.bindAddress
        }
        logger.info("userspace portals are on", metadata: ["hostIP": "\(hostIP)", "family": "\(family)"])
        return PortalManager(
            executor: executor,
            renderer: UserspacePortalRenderer(listenIP: configuration.bindAddress, hostIP: hostIP, family: family),
            fullResyncPeriod: configuration.syncPeriod, logger: logger)
    }
}

extension Logger {
    /// A logger for a component, labelled for klog's `source]` column.
    func child(_ component: String) -> Logger {
        var child = Logger(label: component)
        child.logLevel = logLevel
        return child
    }
}

/// Where Services and endpoints come from: manifest files or an API server.
public protocol ObjectSource: Sendable, CustomStringConvertible {
    /// Emits the initial objects, then `.synced`, then changes until cancelled, in batches
    /// (one per initial load, re-read file or drained run of watch events), so the sync loop
    /// is entered once per batch rather than once per object.
    func runInBatches(_ emit: @Sendable ([SourceEvent]) async -> Void) async throws
}

extension ManifestSource: ObjectSource {
    public var description: String { "manifests(\(path))" }
}

extension APISource: ObjectSource {
    public var description: String { "apiserver(\(configuration.redactedServer))" }
}

extension ProxyBuilder {
    /// `--manifests` when given, else the API server from `--kubeconfig`/`--master`, the
    /// `KUBECONFIG` variable, the in-cluster service account, or `~/.kube/config`, in that
    /// order (upstream's). A missing or broken kubeconfig fails here, naming file and field.
    static func source(_ configuration: KubeProxyConfiguration, nodeName: String, logger: Logger) throws -> any ObjectSource {
        if !configuration.manifests.isEmpty {
            return ManifestSource(
                path: configuration.manifests, validator: ObjectValidation.validator(),
                limits: ManifestLimits(maxFileBytes: configuration.manifestMaxBytes), logger: logger.child("manifests"))
        }
        let client = try ClientConfiguration.load(
            kubeconfig: configuration.kubeconfig.isEmpty ? nil : configuration.kubeconfig,
            master: configuration.master.isEmpty ? nil : configuration.master)
        return APISource(
            config: client, nodeName: nodeName, useEndpoints: configuration.useEndpoints,
            watchServiceCIDRs: configuration.mode == .nftables, logger: logger.child("apiserver"))
    }
}

/// Feeds one source's events to the sync loop and asks for a sync when they matter.
struct SourceService: ServiceLifecycle.Service, CustomStringConvertible {
    var description: String { "source(\(source))" }
    let source: any ObjectSource
    /// The loops' `handle`: records a batch of events, returns whether a sync is wanted.
    let handle: @Sendable ([SourceEvent]) async -> Bool
    let runner: SyncRunner<ContinuousClock>

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await source.runInBatches { events in
                if await handle(events) { runner.requestSync() }
            }
        }
    }
}

/// Runs the sync scheduler until shutdown.
struct SyncService: ServiceLifecycle.Service, CustomStringConvertible {
    var description: String { "sync-loop" }
    let runner: SyncRunner<ContinuousClock>

    func run() async throws {
        await cancelWhenGracefulShutdown { await runner.run() }
    }
}
