import KubeProxyCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The `--healthz-bind-address` server: `/healthz` (load balancers, node eligibility included)
/// and `/livez` (liveness probes, proxier health only), with upstream's JSON, headers and codes.
///
/// Other paths get Go's 404. Every answer of the two endpoints is counted in
/// `kubeproxy_proxy_healthz_total{code}` / `kubeproxy_proxy_livez_total{code}`.
public struct HealthServer: ServiceLifecycle.Service, CustomStringConvertible {
    private let server: HTTPRouteServer
    private let bindRetryInterval: Duration?

    /// Creates the server (nothing is bound until `start()`/`run()`).
    ///
    /// - Parameters:
    ///   - address: `healthzBindAddress`, e.g. `0.0.0.0:10256`.
    ///   - bindRetryInterval: how often `run()` retries a failed bind (upstream: every 5 s);
    ///     `nil` makes a bind failure end `run()` with the error (`--bind-address-hard-fail`).
    ///   - limits: connection cap, idle and request deadlines (`HTTPServerLimits.observability`).
    public init(
        address: HostPort, health: HealthHolder, metrics: ProxyMetrics,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        bindRetryInterval: Duration? = .seconds(5), limits: HTTPServerLimits = .observability
    ) {
        self.server = HTTPRouteServer(
            name: "healthz", ip: address.ip, port: address.port, group: group, limits: limits, logger: logger,
            route: Self.route(health: health, metrics: metrics))
        self.bindRetryInterval = bindRetryInterval
    }

    /// `healthz(<address>)`, for service-group logs.
    public var description: String { "healthz(\(server.address))" }

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

    /// The answers: the verdict of the holder now, serialised as upstream does, and counted.
    static func route(health: HealthHolder, metrics: ProxyMetrics) -> HTTPRoute {
        { request in
            let verdict: HealthVerdict<WallTime>
            switch request.path {
            case "/healthz":
                verdict = health.healthz()
                metrics.healthCheckServed(.healthz, code: verdict.statusCode)
            case "/livez":
                verdict = health.livez()
                metrics.healthCheckServed(.livez, code: verdict.statusCode)
            default:
                return .notFound
            }
            return HTTPRouteResponse(
                status: HTTPResponseStatus(statusCode: verdict.statusCode),
                headers: [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")],
                body: Array(verdict.json.utf8))
        }
    }
}
