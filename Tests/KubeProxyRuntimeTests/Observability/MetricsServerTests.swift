import Foundation
import KubeProxyCore
import Prometheus
import Testing

@testable import KubeProxyRuntime

@Suite(.timeLimit(.minutes(1)))
struct MetricsServerTests {
    let registry = PrometheusCollectorRegistry()
    let server: MetricsServer

    init() {
        server = MetricsServer(address: HostPort("127.0.0.1:0")!, registry: registry, logger: silentLogger)
    }

    @Test func servesTheRegistryAsTextExposition() async throws {
        let metrics = ProxyMetrics(registry: registry)
        metrics.changesTaken(services: 2, endpoints: 0)
        let port = try await server.start()
        let response = try RawHTTP.get("/metrics", port: port)
        await server.shutdown()
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.body.contains("# TYPE kubeproxy_sync_proxy_rules_service_changes_total counter\n"))
        #expect(response.body.contains("\nkubeproxy_sync_proxy_rules_service_changes_total 2\n"))
    }

    @Test(.enabled(if: PrometheusTextParser.isAvailable, PrometheusTextParser.skipReason))
    func scrapedBodyParses() async throws {
        let metrics = ProxyMetrics(registry: registry)
        metrics.syncCompleted(duration: .milliseconds(3), family: .ipv4, at: WallTime(seconds: 1_714_557_600))
        let port = try await server.start()
        let body = try RawHTTP.get("/metrics", port: port).body
        await server.shutdown()
        let names = try PrometheusTextParser.parse(body).map(\.name)
        #expect(names.contains(MetricNames.syncProxyRulesDuration))
    }

    @Test func servesTheDataPlaneSeriesAfterTheRegistry() async throws {
        _ = ProxyMetrics(registry: registry)
        let dataPlane = DataPlaneMetrics()
        dataPlane.record([ServicePortName(namespace: "default", name: "web", port: "http"): .init(totalConnections: 7)])
        let server = MetricsServer(
            address: HostPort("127.0.0.1:0")!, registry: registry, dataPlane: dataPlane, logger: silentLogger)
        let port = try await server.start()
        let body = try RawHTTP.get("/metrics", port: port).body
        await server.shutdown()
        let registryPart = try #require(body.range(of: "# TYPE kubeproxy_sync_proxy_rules_service_changes_total counter"))
        let dataPlanePart = try #require(body.range(of: "\nkubeproxy_userspace_connections_total{protocol=\"TCP\"} 7\n"))
        #expect(registryPart.lowerBound < dataPlanePart.lowerBound)
    }

    @Test(arguments: ["/", "/healthz", "/metrics/extra"])
    func otherPathsAreNotFound(path: String) async throws {
        let port = try await server.start()
        let response = try RawHTTP.get(path, port: port)
        await server.shutdown()
        #expect(response.status == 404)
    }
}
