import KubeAPI
import KubeClient
import KubeProxyCore
import KubeProxyDataPlane
import Logging
import NIOCore
import NIOPosix
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
        let portRange: PortRange? = (try? PortRange.parse(configuration.portRange)) ?? nil
        let nodeName = Self.nodeName(configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, System.coreCount))
        let dataPlane = UserspaceProxy(
            group: group, bindAddress: configuration.bindAddress, portRange: portRange,
            logger: logger.child("dataplane"))
        let controller = ProxyController(
            nodeName: nodeName, family: configuration.bindAddress.family, dataPlane: dataPlane,
            logger: logger.child("proxier"))
        let runner = SyncRunner(
            clock: ContinuousClock(),
            configuration: .init(minSyncPeriod: configuration.minSyncPeriod, syncPeriod: configuration.syncPeriod),
            sync: { await controller.sync() })
        let source = ManifestSource(
            path: configuration.manifests, validator: ObjectValidation.validator(),
            logger: logger.child("manifests"))

        logger.info(
            "starting kube-proxy",
            metadata: [
                "version": "\(KubeProxyVersion.string)", "mode": "\(configuration.mode.rawValue)", "node": "\(nodeName)",
                "bindAddress": "\(configuration.bindAddress)",
                "portRange": "\(portRange?.description ?? "kernel")",
                "manifests": "\(configuration.manifests)",
            ])
        let services: [any ServiceLifecycle.Service] = [
            SourceService(source: source, controller: controller, runner: runner),
            SyncService(runner: runner),
        ]
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services.map {
                    .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        var failure: (any Error)?
        do {
            try await serviceGroup.run()
        } catch {
            failure = error
        }
        logger.info("shutting down: closing proxy listeners")
        await dataPlane.shutdown()
        try? await group.shutdownGracefully()
        if let failure { throw failure }
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

/// Feeds one source's events to the controller and asks for a sync when they matter.
struct SourceService: ServiceLifecycle.Service, CustomStringConvertible {
    var description: String { "manifest-source(\(source.path))" }
    let source: ManifestSource
    let controller: ProxyController
    let runner: SyncRunner<ContinuousClock>

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await source.run { event in
                if await controller.handle(event) { runner.requestSync() }
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
