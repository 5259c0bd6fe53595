import KubeProxyCore
import KubeProxyDataPlane
import Prometheus
import Testing

@testable import KubeProxyRuntime

/// Renders a registry fed through `ProxyMetrics` and reads it back with the reference parser:
/// names, types, labels and upstream's bucket boundaries as a scraper sees them.
@Suite(.enabled(if: PrometheusTextParser.isAvailable, PrometheusTextParser.skipReason))
struct PrometheusExpositionTests {
    let registry = PrometheusCollectorRegistry()
    let families: [String: PrometheusTextParser.Family]

    init() throws {
        let metrics = ProxyMetrics(registry: registry)
        let now = WallTime(seconds: 1_714_557_610)
        metrics.syncCompleted(duration: .microseconds(1500), family: .ipv4, at: now)
        metrics.syncQueued(family: .ipv4, at: WallTime(seconds: 1_714_557_609))
        metrics.networkProgrammingLatency(
            triggerTimes: ["2024-05-01T10:00:00Z", "2024-05-01T10:00:09.8Z"], family: .ipv4, now: now)
        metrics.pendingChanges(services: 1, endpoints: 2)
        metrics.changesTaken(services: 3, endpoints: 4)
        metrics.noLocalEndpoints(internal: 0, external: 2, family: .ipv4)
        metrics.healthCheckServed(.healthz, code: 200)
        metrics.healthCheckServed(.livez, code: 503)
        let dataPlane = DataPlaneMetrics()
        dataPlane.record(Self.dataPlaneStatistics)
        let parsed = try PrometheusTextParser.parse(Self.scrape(registry, dataPlane))
        // The parser names counter families without their `_total` suffix; index both ways.
        var byName: [String: PrometheusTextParser.Family] = [:]
        for family in parsed {
            byName[family.name] = family
            byName[family.name + "_total"] = family
        }
        families = byName
    }

    static let dataPlaneStatistics = [
        ServicePortName(namespace: "default", name: "web", port: "http"): ListenerStatistics(
            activeConnections: 1, totalConnections: 2, bytesClientToBackend: 10, bytesBackendToClient: 20),
        ServicePortName(namespace: "default", name: "api", port: "http"): ListenerStatistics(
            activeConnections: 2, totalConnections: 3, bytesBackendToClient: 5),
        ServicePortName(namespace: "kube-system", name: "dns", port: "dns", protocol: .udp): ListenerStatistics(
            bytesClientToBackend: 60, udpSessions: 1, udpSessionsTotal: 4, udpDroppedDatagrams: 1),
    ]

    /// The body `/metrics` serves for these metrics.
    static func scrape(_ registry: PrometheusCollectorRegistry, _ dataPlane: DataPlaneMetrics) -> String {
        let route = MetricsServer.route(registry: registry, dataPlane: dataPlane)
        return String(decoding: route(HTTPRouteRequest(method: .GET, path: "/metrics")).body, as: UTF8.self)
    }

    private func family(_ name: String, type: String) throws -> PrometheusTextParser.Family {
        let family = try #require(families[name], "\(name) missing from the exposition")
        #expect(family.type == type, "\(name)")
        return family
    }

    private func value(_ family: PrometheusTextParser.Family, _ sample: String, _ labels: [String: String]) -> Double? {
        family.samples.first { $0.name == sample && $0.labels == labels }?.value
    }

    private func bucketBounds(_ family: PrometheusTextParser.Family) -> [Double] {
        family.samples.filter { $0.name.hasSuffix("_bucket") }.compactMap { $0.labels["le"] }.filter { $0 != "+Inf" }
            .compactMap(Double.init).sorted()
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test func syncDurationHistogramHasUpstreamBuckets() throws {
        let name = MetricNames.syncProxyRulesDuration
        let histogram = try family(name, type: "histogram")
        #expect(bucketBounds(histogram) == (0..<15).map { 0.001 * Double(1 << $0) })
        let v4 = ["ip_family": "IPv4"]
        #expect(value(histogram, name + "_bucket", v4.merging(["le": "0.001"]) { a, _ in a }) == 0)
        #expect(value(histogram, name + "_bucket", v4.merging(["le": "0.002"]) { a, _ in a }) == 1)
        #expect(value(histogram, name + "_count", v4) == 1)
        #expect(value(histogram, name + "_sum", v4) == 0.0015)
    }

    @Test func networkProgrammingHistogramHasUpstreamBuckets() throws {
        let name = MetricNames.networkProgrammingDuration
        let histogram = try family(name, type: "histogram")
        let upstream =
            [0.25, 0.5] + (1...59).map(Double.init) + stride(from: 60.0, through: 115, by: 5)
            + stride(from: 120.0, through: 300, by: 30)
        #expect(upstream.count == 80)
        #expect(bucketBounds(histogram) == upstream)
        #expect(MetricNames.networkProgrammingDurationBuckets.map(Self.seconds) == upstream)
        #expect(value(histogram, name + "_count", ["ip_family": "IPv4"]) == 2)
        #expect(value(histogram, name + "_bucket", ["ip_family": "IPv4", "le": "0.25"]) == 1)
    }

    @Test func gaugesAndCountersReadBackWithTheirLabels() throws {
        let last = try family(MetricNames.syncProxyRulesLastTimestamp, type: "gauge")
        #expect(value(last, MetricNames.syncProxyRulesLastTimestamp, ["ip_family": "IPv4"]) == 1_714_557_610)
        let queued = try family(MetricNames.syncProxyRulesLastQueuedTimestamp, type: "gauge")
        #expect(value(queued, MetricNames.syncProxyRulesLastQueuedTimestamp, ["ip_family": "IPv4"]) == 1_714_557_609)
        let pending = try family(MetricNames.endpointChangesPending, type: "gauge")
        #expect(value(pending, MetricNames.endpointChangesPending, [:]) == 2)
        let total = try family(MetricNames.serviceChangesTotal, type: "counter")
        #expect(value(total, MetricNames.serviceChangesTotal, [:]) == 3)
        let noLocal = try family(MetricNames.noLocalEndpoints, type: "gauge")
        #expect(
            value(noLocal, MetricNames.noLocalEndpoints, ["ip_family": "IPv4", "traffic_policy": "external"]) == 2)
        let healthz = try family(MetricNames.healthzTotal, type: "counter")
        #expect(value(healthz, MetricNames.healthzTotal, ["code": "200"]) == 1)
        let livez = try family(MetricNames.livezTotal, type: "counter")
        #expect(value(livez, MetricNames.livezTotal, ["code": "503"]) == 1)
    }

    @Test func userspaceSeriesAreTotalsPerProtocolByDefault() throws {
        let tcp = ["protocol": "TCP"]
        let bytes = try family(MetricNames.userspaceBytesTotal, type: "counter")
        #expect(
            value(bytes, MetricNames.userspaceBytesTotal, tcp.merging(["direction": "backend_to_client"]) { a, _ in a })
                == 25)
        let active = try family(MetricNames.userspaceActiveConnections, type: "gauge")
        #expect(value(active, MetricNames.userspaceActiveConnections, tcp) == 3)
        let connections = try family(MetricNames.userspaceConnectionsTotal, type: "counter")
        #expect(value(connections, MetricNames.userspaceConnectionsTotal, tcp) == 5)
        let sessions = try family(MetricNames.userspaceActiveUDPSessions, type: "gauge")
        #expect(value(sessions, MetricNames.userspaceActiveUDPSessions, ["protocol": "UDP"]) == 1)
        let dropped = try family(MetricNames.userspaceUDPDroppedDatagramsTotal, type: "counter")
        #expect(value(dropped, MetricNames.userspaceUDPDroppedDatagramsTotal, ["protocol": "UDP"]) == 1)
        #expect(!families.values.flatMap(\.samples).contains { $0.labels["service_port"] != nil })
    }

    @Test func perServicePortSeriesCarryServicePortProtocolAndDirection() throws {
        let dataPlane = DataPlaneMetrics(perServicePort: true)
        dataPlane.record(Self.dataPlaneStatistics)
        let parsed = try PrometheusTextParser.parse(Self.scrape(PrometheusCollectorRegistry(), dataPlane))
        func samples(_ name: String) -> [PrometheusTextParser.Sample] {
            parsed.flatMap(\.samples).filter { $0.name == name }
        }
        let labels = ["service_port": "default/web:http", "protocol": "TCP"]
        #expect(
            samples(MetricNames.userspaceBytesTotal).first {
                $0.labels == labels.merging(["direction": "backend_to_client"]) { a, _ in a }
            }?.value == 20)
        #expect(samples(MetricNames.userspaceActiveConnections).first { $0.labels == labels }?.value == 1)
        #expect(samples(MetricNames.userspaceConnectionsTotal).map(\.labels["service_port"]) == ["default/api:http", "default/web:http"])
        #expect(
            samples(MetricNames.userspaceUDPSessionsTotal).map(\.labels)
                == [["service_port": "kube-system/dns:dns", "protocol": "UDP"]])
    }

    @Test func everyExportedNameIsOneOfOurs() {
        let ours = Set([
            MetricNames.syncProxyRulesDuration, MetricNames.networkProgrammingDuration,
            MetricNames.syncProxyRulesLastTimestamp, MetricNames.syncProxyRulesLastQueuedTimestamp,
            MetricNames.endpointChangesPending, MetricNames.endpointChangesTotal, MetricNames.serviceChangesPending,
            MetricNames.serviceChangesTotal, MetricNames.noLocalEndpoints, MetricNames.healthzTotal,
            MetricNames.livezTotal, MetricNames.userspaceActiveConnections, MetricNames.userspaceConnectionsTotal,
            MetricNames.userspaceBytesTotal, MetricNames.userspaceConnectFailuresTotal,
            MetricNames.userspaceConnectRetriesTotal, MetricNames.userspaceUDPSessionsTotal,
            MetricNames.userspaceActiveUDPSessions, MetricNames.userspaceUDPDroppedDatagramsTotal,
        ])
        let exported = Set(families.values.map(\.name)).map { name in ours.contains(name) ? name : name + "_total" }
        #expect(Set(exported).isSubset(of: ours), "\(Set(exported).subtracting(ours))")
    }
}
