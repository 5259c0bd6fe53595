import KubeProxyCore
import MetricsTestKit
import Testing

@testable import KubeProxyRuntime

struct ProxyMetricsTests {
    let test = TestMetrics()
    let metrics: ProxyMetrics
    static let t0 = WallTime(seconds: 1_714_557_600)

    init() {
        metrics = ProxyMetrics(factory: test)
    }

    @Test func changeCountersAndPendingGaugesExistFromTheStart() throws {
        #expect(try test.expectCounter(MetricNames.serviceChangesTotal).totalValue == 0)
        #expect(try test.expectCounter(MetricNames.endpointChangesTotal).totalValue == 0)
        #expect(try test.expectGauge(MetricNames.serviceChangesPending).lastValue == 0)
        #expect(try test.expectGauge(MetricNames.endpointChangesPending).lastValue == 0)
    }

    @Test func syncCompletedRecordsDurationAndTimestampPerFamily() throws {
        metrics.syncCompleted(duration: .milliseconds(12), family: .ipv4, at: Self.t0)
        metrics.syncCompleted(
            duration: .milliseconds(30), family: .ipv4, at: WallTime(seconds: 1_714_557_601, nanoseconds: 500_000_000))
        metrics.syncCompleted(duration: .milliseconds(7), family: .ipv6, at: Self.t0)
        let v4 = [("ip_family", "IPv4")]
        #expect(try test.expectTimer(MetricNames.syncProxyRulesDuration, v4).values == [12_000_000, 30_000_000])
        #expect(try test.expectTimer(MetricNames.syncProxyRulesDuration, [("ip_family", "IPv6")]).values == [7_000_000])
        #expect(try test.expectGauge(MetricNames.syncProxyRulesLastTimestamp, v4).lastValue == 1_714_557_601.5)
    }

    @Test func syncQueuedSetsTheQueuedTimestamp() throws {
        metrics.syncQueued(family: .ipv6, at: Self.t0)
        #expect(
            try test.expectGauge(MetricNames.syncProxyRulesLastQueuedTimestamp, [("ip_family", "IPv6")]).lastValue
                == 1_714_557_600)
    }

    @Test func pendingIsAGaugeAndTakenAccumulates() throws {
        metrics.pendingChanges(services: 3, endpoints: 5)
        metrics.pendingChanges(services: 0, endpoints: 1)
        metrics.changesTaken(services: 3, endpoints: 4)
        metrics.changesTaken(services: 2, endpoints: 0)
        #expect(try test.expectGauge(MetricNames.serviceChangesPending).lastValue == 0)
        #expect(try test.expectGauge(MetricNames.endpointChangesPending).lastValue == 1)
        #expect(try test.expectCounter(MetricNames.serviceChangesTotal).totalValue == 5)
        #expect(try test.expectCounter(MetricNames.endpointChangesTotal).totalValue == 4)
    }

    @Test func networkProgrammingLatencyIsMeasuredFromEachTriggerTime() throws {
        let now = WallTime(seconds: 1_714_557_610)
        let rejected = metrics.networkProgrammingLatency(
            triggerTimes: ["2024-05-01T10:00:00Z", "2024-05-01T10:00:09.75Z", "not a time", "2024-05-01T10:00:20Z"],
            family: .ipv4, now: now)
        #expect(rejected == ["not a time"])
        #expect(
            try test.expectTimer(MetricNames.networkProgrammingDuration, [("ip_family", "IPv4")]).values
                == [10_000_000_000, 250_000_000, 0], "a future trigger time (clock skew) counts as zero")
    }

    @Test func noLocalEndpointsPerPolicy() throws {
        metrics.noLocalEndpoints(internal: 1, external: 4, family: .ipv4)
        #expect(
            try test.expectGauge(MetricNames.noLocalEndpoints, [("ip_family", "IPv4"), ("traffic_policy", "internal")])
                .lastValue == 1)
        #expect(
            try test.expectGauge(MetricNames.noLocalEndpoints, [("ip_family", "IPv4"), ("traffic_policy", "external")])
                .lastValue == 4)
    }

    @Test func healthAnswersAreCountedByCode() throws {
        metrics.healthCheckServed(.healthz, code: 200)
        metrics.healthCheckServed(.healthz, code: 200)
        metrics.healthCheckServed(.healthz, code: 503)
        metrics.healthCheckServed(.livez, code: 200)
        #expect(try test.expectCounter(MetricNames.healthzTotal, [("code", "200")]).totalValue == 2)
        #expect(try test.expectCounter(MetricNames.healthzTotal, [("code", "503")]).totalValue == 1)
        #expect(try test.expectCounter(MetricNames.livezTotal, [("code", "200")]).totalValue == 1)
    }
}
