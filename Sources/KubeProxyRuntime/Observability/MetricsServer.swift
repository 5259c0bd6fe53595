import KubeProxyCore
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The `--metrics-bind-address` server: `/metrics` in the Prometheus text exposition format,
/// rendered from the registry and the data-plane metrics on every scrape; 404 elsewhere.
public struct MetricsServer: ServiceLifecycle.Service, CustomStringConvertible {
    /// The content type Go's `promhttp` sends for the text format, which upstream serves.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let server: HTTPRouteServer
    private let bindRetryInterval: Duration?

    /// Creates the server (nothing is bound until `start()`/`run()`).
    ///
    /// - Parameters:
    ///   - address: `metricsBindAddress`, e.g. `127.0.0.1:10249`.
    ///   - registry: the swift-metrics series (`ProxyMetrics`).
    ///   - dataPlane: the `kubeproxy_userspace_*` series, appended after the registry's.
    ///   - nfacct: iptables mode's nfacct counters, read from the kernel per scrape and appended
    ///     last (nil: not exported).
    ///   - bindRetryInterval: how often `run()` retries a failed bind (upstream: every 5 s);
    ///     `nil` makes a bind failure end `run()` with the error (`--bind-address-hard-fail`).
    ///   - limits: connection cap, idle and request deadlines (`HTTPServerLimits.observability`).
    public init(
        address: HostPort, registry: PrometheusCollectorRegistry, dataPlane: DataPlaneMetrics? = nil,
        nfacct: NFAcctMetrics? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        bindRetryInterval: Duration? = .seconds(5), limits: HTTPServerLimits = .observability
    ) {
        self.server = HTTPRouteServer(
            name: "metrics", ip: address.ip, port: address.port, group: group, limits: limits, logger: logger,
            route: Self.route(registry: registry, dataPlane: dataPlane, nfacct: nfacct))
        self.bindRetryInterval = bindRetryInterval
    }

    /// `metrics(<address>)`, for service-group logs.
    public var description: String { "metrics(\(server.address))" }

    /// Binds and serves; returns the bound port (the real one when the address had port 0).
    @discardableResult
    public func start() async throws(ServerBindError) -> Int {
        try await server.start()
    }

    /// Stops listening and closes open connections.
    public func shutdown() async {
        await server.shutdown()
    }

    /// Serves until graceful shutdown or cancellation (swift-service-lifecycle).
    public func run() async throws {
        try await server.run(retryInterval: bindRetryInterval)
    }

    /// The answers: the registry, the data-plane series and the nfacct counters rendered per
    /// scrape on `/metrics`, 404 elsewhere.
    static func route(
        registry: PrometheusCollectorRegistry, dataPlane: DataPlaneMetrics? = nil, nfacct: NFAcctMetrics? = nil
    ) -> HTTPRoute {
        { request in
            guard request.path == "/metrics" else { return .notFound }
            var body = registry.emitToBuffer()
            dataPlane?.emit(into: &body)
            nfacct?.emit(into: &body)
            return HTTPRouteResponse(status: .ok, headers: [("Content-Type", contentType)], body: body)
        }
    }
}
