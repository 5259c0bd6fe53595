import KubeProxyCore
import KubeProxyDataPlane
import Testing

@testable import KubeProxyRuntime

/// The data-plane series: totals that stay monotonic while listeners come and go, a default
/// exposition whose size does not depend on the number of Services, and per-port series only
/// when asked for.
struct DataPlaneMetricsTests {
    static let web = ServicePortName(namespace: "default", name: "web", port: "http")
    static let api = ServicePortName(namespace: "default", name: "api", port: "https")
    static let dns = ServicePortName(namespace: "kube-system", name: "dns", port: "dns", protocol: .udp)

    /// The value of the one line `name{labels} value` in `text`, or nil.
    static func sample(_ text: String, _ name: String, _ labels: String) -> Int? {
        let prefix = "\(name){\(labels)} "
        let lines = text.split(separator: "\n").filter { $0.hasPrefix(prefix) }
        guard lines.count == 1 else { return nil }
        return Int(lines[0].dropFirst(prefix.count))
    }

    /// Sample lines (not comments) in `text`.
    static func sampleCount(_ text: String) -> Int {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
    }

    @Test func totalsGrowByTheGrowthOfEveryListener() {
        var totals = DataPlaneTotals()
        totals.report([
            Self.web: ListenerStatistics(activeConnections: 2, totalConnections: 5, bytesClientToBackend: 100),
            Self.api: ListenerStatistics(activeConnections: 1, totalConnections: 1, connectRetries: 2),
        ])
        totals.report([
            Self.web: ListenerStatistics(activeConnections: 0, totalConnections: 8, bytesClientToBackend: 150),
            Self.api: ListenerStatistics(activeConnections: 3, totalConnections: 4, connectRetries: 2),
        ])
        #expect(
            totals.byProtocol[.tcp]
                == ListenerStatistics(
                    activeConnections: 3, totalConnections: 12, bytesClientToBackend: 150, connectRetries: 2))
        #expect(totals.byProtocol[.udp] == nil)
    }

    @Test func aSmallerValueMeansTheListenerRestartedFromZero() {
        var totals = DataPlaneTotals()
        totals.report([Self.web: ListenerStatistics(totalConnections: 10)])
        totals.report([Self.web: ListenerStatistics(totalConnections: 3)])
        #expect(totals.byProtocol[.tcp]?.totalConnections == 13)
    }

    @Test func aClosedListenerKeepsItsCountsInTheTotalsAndLeavesTheGauges() {
        var totals = DataPlaneTotals()
        totals.report([
            Self.web: ListenerStatistics(activeConnections: 2, totalConnections: 5),
            Self.dns: ListenerStatistics(udpSessions: 3, udpSessionsTotal: 7, udpDroppedDatagrams: 1),
        ])
        totals.report([:])
        #expect(totals.byProtocol[.tcp] == ListenerStatistics(totalConnections: 5))
        #expect(totals.byProtocol[.udp] == ListenerStatistics(udpSessionsTotal: 7, udpDroppedDatagrams: 1))
        #expect(totals.ports.isEmpty)
        // The same port opening again counts from its new cumulative values.
        totals.report([Self.web: ListenerStatistics(totalConnections: 4)])
        #expect(totals.byProtocol[.tcp]?.totalConnections == 9)
    }

    @Test func defaultSeriesArePerProtocolAndExistBeforeAnyReport() {
        let text = DataPlaneMetrics().emitToString()
        #expect(Self.sample(text, MetricNames.userspaceConnectionsTotal, "protocol=\"TCP\"") == 0)
        #expect(Self.sample(text, MetricNames.userspaceActiveConnections, "protocol=\"TCP\"") == 0)
        #expect(Self.sample(text, MetricNames.userspaceUDPSessionsTotal, "protocol=\"UDP\"") == 0)
        #expect(
            Self.sample(text, MetricNames.userspaceBytesTotal, "protocol=\"UDP\",direction=\"backend_to_client\"") == 0)
        #expect(!text.contains("service_port="))
        #expect(text.contains("# TYPE \(MetricNames.userspaceConnectionsTotal) counter\n"))
        #expect(text.contains("# TYPE \(MetricNames.userspaceActiveUDPSessions) gauge\n"))
    }

    @Test func defaultSeriesSumEveryPortOfAProtocol() {
        let metrics = DataPlaneMetrics()
        metrics.record([
            Self.web: ListenerStatistics(activeConnections: 1, totalConnections: 2, bytesBackendToClient: 20),
            Self.api: ListenerStatistics(activeConnections: 1, totalConnections: 3, bytesBackendToClient: 5),
            Self.dns: ListenerStatistics(bytesBackendToClient: 60, udpSessions: 1, udpSessionsTotal: 4),
        ])
        let text = metrics.emitToString()
        #expect(Self.sample(text, MetricNames.userspaceActiveConnections, "protocol=\"TCP\"") == 2)
        #expect(Self.sample(text, MetricNames.userspaceConnectionsTotal, "protocol=\"TCP\"") == 5)
        #expect(
            Self.sample(text, MetricNames.userspaceBytesTotal, "protocol=\"TCP\",direction=\"backend_to_client\"") == 25)
        #expect(
            Self.sample(text, MetricNames.userspaceBytesTotal, "protocol=\"UDP\",direction=\"backend_to_client\"") == 60)
        #expect(Self.sample(text, MetricNames.userspaceUDPSessionsTotal, "protocol=\"UDP\"") == 4)
        #expect(Self.sample(text, MetricNames.userspaceActiveUDPSessions, "protocol=\"UDP\"") == 1)
        #expect(Self.sample(text, MetricNames.userspaceConnectionsTotal, "protocol=\"UDP\"") == nil, "no TCP series for UDP")
        #expect(Self.sample(text, MetricNames.userspaceUDPSessionsTotal, "protocol=\"TCP\"") == nil, "no UDP series for TCP")
    }

    /// 10,000 TCP and UDP ports with large counters, as at the issue's scale.
    static func manyPorts() -> [ServicePortName: ListenerStatistics] {
        var stats: [ServicePortName: ListenerStatistics] = [:]
        for i in 0..<10_000 {
            let name = ServicePortName(
                namespace: "namespace-\(i % 100)", name: "service-\(i)", port: "port-\(i % 3)",
                protocol: i % 5 == 0 ? .udp : .tcp)
            stats[name] = ListenerStatistics(
                activeConnections: i % 7, totalConnections: 1_000_000 + i, bytesClientToBackend: 1 << 40,
                bytesBackendToClient: 1 << 41, connectFailures: i, connectRetries: i, udpSessions: i % 3,
                udpSessionsTotal: i, udpDroppedDatagrams: i)
        }
        return stats
    }

    @Test func defaultExpositionAt10kPortsIsSmallAndHasAsManySeriesAsAtOnePort() {
        let one = DataPlaneMetrics()
        one.record([Self.web: ListenerStatistics(totalConnections: 1)])
        let many = DataPlaneMetrics()
        many.record(Self.manyPorts())
        let text = many.emitToString()
        #expect(text.utf8.count < 1_000_000, "the issue's budget for the whole /metrics")
        #expect(text.utf8.count < 4_096, "\(text.utf8.count) bytes")
        #expect(Self.sampleCount(text) == Self.sampleCount(one.emitToString()))
    }

    @Test func perServicePortSeriesCarryTheServicePortLabel() {
        let metrics = DataPlaneMetrics(perServicePort: true)
        metrics.record([
            Self.web: ListenerStatistics(activeConnections: 1, totalConnections: 2, bytesClientToBackend: 10),
            Self.dns: ListenerStatistics(udpSessionsTotal: 4, udpDroppedDatagrams: 1),
        ])
        let text = metrics.emitToString()
        let web = "service_port=\"default/web:http\",protocol=\"TCP\""
        let dns = "service_port=\"kube-system/dns:dns\",protocol=\"UDP\""
        #expect(Self.sample(text, MetricNames.userspaceActiveConnections, web) == 1)
        #expect(Self.sample(text, MetricNames.userspaceConnectionsTotal, web) == 2)
        #expect(Self.sample(text, MetricNames.userspaceBytesTotal, web + ",direction=\"client_to_backend\"") == 10)
        #expect(Self.sample(text, MetricNames.userspaceUDPSessionsTotal, dns) == 4)
        #expect(Self.sample(text, MetricNames.userspaceUDPDroppedDatagramsTotal, dns) == 1)
        #expect(Self.sample(text, MetricNames.userspaceConnectionsTotal, dns) == nil)
        #expect(Self.sample(text, MetricNames.userspaceConnectionsTotal, "protocol=\"TCP\"") == nil, "no totals beside")
        // TCP: active, connections, 2×bytes, failures, retries; UDP: active sessions, sessions,
        // dropped, 2×bytes, failures, retries.
        #expect(Self.sampleCount(text) == 6 + 7)
    }

    @Test func perServicePortSeriesFollowTheOpenListeners() {
        let metrics = DataPlaneMetrics(perServicePort: true)
        metrics.record([Self.web: ListenerStatistics(totalConnections: 2), Self.api: ListenerStatistics()])
        metrics.record([Self.api: ListenerStatistics(totalConnections: 1)])
        let text = metrics.emitToString()
        #expect(!text.contains("default/web:http"))
        #expect(
            Self.sample(text, MetricNames.userspaceConnectionsTotal, "service_port=\"default/api:https\",protocol=\"TCP\"")
                == 1)
    }

    @Test func perServicePortOutputIsSortedAndDeterministic() {
        let a = DataPlaneMetrics(perServicePort: true)
        let b = DataPlaneMetrics(perServicePort: true)
        let stats = Self.manyPorts()
        a.record(stats)
        b.record(Dictionary(uniqueKeysWithValues: stats.reversed()))
        let text = a.emitToString()
        #expect(text == b.emitToString())
        let ports = text.split(separator: "\n").filter { $0.hasPrefix(MetricNames.userspaceConnectFailuresTotal + "{") }
        #expect(ports.count == 10_000)
    }

    @Test func labelValuesAreEscaped() {
        var buffer: [UInt8] = []
        DataPlaneMetrics.appendLabels([("service_port", "a\\b\"c\nd")], into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == #"{service_port="a\\b\"c\nd"}"#)
    }
}

/// The publisher reads the data plane and writes the metrics with nothing else in between: no
/// controller (whose actor runs the syncs) is part of it.
struct StatisticsServiceTests {
    /// A data plane that only has statistics.
    struct StatisticsOnlyDataPlane: UserspaceDataPlane {
        let stats: [ServicePortName: ListenerStatistics]
        func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange] { [] }
        func listenerPorts() async -> [ServicePortName: Int] { [:] }
        func updateClaims(_ desired: Set<PortClaim>) async -> [PortClaimResult] { [] }
        func statistics() async -> [ServicePortName: ListenerStatistics] { stats }
        func unservedPorts() async -> UnservedPorts? { nil }
        func shutdown(drainTimeout: Duration) async {}
    }

    /// Totals get no idle listeners (a 10k-entry report of zeros every few seconds otherwise);
    /// per-port series get every listener, idle ones at zero.
    @Test(arguments: [false, true])
    func idleListenersReachOnlyPerPortSeries(_ perServicePort: Bool) async {
        let idle = ServicePortName(namespace: "default", name: "idle", port: "http")
        let metrics = DataPlaneMetrics(perServicePort: perServicePort)
        let service = StatisticsService(
            dataPlane: StatisticsOnlyDataPlane(stats: [
                DataPlaneMetricsTests.web: .init(totalConnections: 9), idle: ListenerStatistics(),
            ]),
            metrics: metrics)
        await service.publish()
        let text = metrics.emitToString()
        #expect(text.contains("default/idle:http") == perServicePort)
        #expect(text.contains("default/web:http") == perServicePort)
    }

    /// Folding a report without its idle listeners gives the same totals as with them at zero,
    /// over listeners that become busy, stay idle, close and restart.
    @Test func totalsDoNotDependOnIdleListenersBeingReported() {
        let a = ServicePortName(namespace: "default", name: "a", port: "http")
        let b = ServicePortName(namespace: "default", name: "b", port: "dns", protocol: .udp)
        let reports: [[ServicePortName: ListenerStatistics]] = [
            [a: ListenerStatistics(), b: ListenerStatistics()],
            [a: .init(activeConnections: 1, totalConnections: 2), b: ListenerStatistics()],
            [a: .init(totalConnections: 5, bytesClientToBackend: 10), b: .init(udpSessions: 1, udpSessionsTotal: 1)],
            [a: ListenerStatistics(), b: .init(udpSessionsTotal: 1, udpDroppedDatagrams: 3)],
            [a: .init(totalConnections: 1), b: .init(udpSessionsTotal: 1, udpDroppedDatagrams: 3)],
        ]
        let full = DataPlaneMetrics()
        let sparse = DataPlaneMetrics()
        for report in reports {
            full.record(report)
            sparse.record(report.filter { $0.value != ListenerStatistics() })
            #expect(sparse.emitToString() == full.emitToString())
        }
    }

    @Test func publishHandsTheDataPlanesStatisticsToTheMetrics() async {
        let metrics = DataPlaneMetrics()
        let service = StatisticsService(
            dataPlane: StatisticsOnlyDataPlane(stats: [DataPlaneMetricsTests.web: .init(totalConnections: 9)]),
            metrics: metrics)
        await service.publish()
        #expect(
            DataPlaneMetricsTests.sample(metrics.emitToString(), MetricNames.userspaceConnectionsTotal, "protocol=\"TCP\"")
                == 9)
    }
}
