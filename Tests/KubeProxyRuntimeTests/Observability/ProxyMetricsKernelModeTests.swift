import KubeProxyCore
import MetricsTestKit
import Testing

@testable import KubeProxyRuntime

struct ProxyMetricsKernelModeTests {
    let test = TestMetrics()
    let metrics: ProxyMetrics
    let v4 = [("ip_family", "IPv4")]

    init() {
        metrics = ProxyMetrics(factory: test)
    }

    @Test func fullAndPartialSyncsHaveTheirOwnHistograms() throws {
        metrics.kernelSyncCompleted(full: true, duration: .milliseconds(40), family: .ipv4)
        metrics.kernelSyncCompleted(full: false, duration: .milliseconds(3), family: .ipv4)
        metrics.kernelSyncCompleted(full: false, duration: .milliseconds(2), family: .ipv4)
        #expect(try test.expectTimer(MetricNames.syncFullProxyRulesDuration, v4).values == [40_000_000])
        #expect(try test.expectTimer(MetricNames.syncPartialProxyRulesDuration, v4).values == [3_000_000, 2_000_000])
    }

    @Test func iptablesRuleCountsPerTable() throws {
        metrics.iptablesRules(owned: ["nat": 120, "filter": 9], written: ["nat": 14, "filter": 9], family: .ipv4)
        metrics.iptablesRules(owned: ["nat": 115, "filter": 9], written: ["nat": 0, "filter": 9], family: .ipv4)
        #expect(try test.expectGauge(MetricNames.iptablesTotal, v4 + [("table", "nat")]).lastValue == 115)
        #expect(try test.expectGauge(MetricNames.iptablesLast, v4 + [("table", "nat")]).lastValue == 0)
        #expect(try test.expectGauge(MetricNames.iptablesLast, v4 + [("table", "filter")]).lastValue == 9)
    }

    @Test func restoreFailuresCountPartialOnesTwice() throws {
        metrics.registerIPTablesCounters(family: .ipv4)
        #expect(try test.expectCounter(MetricNames.iptablesPartialRestoreFailuresTotal, v4).totalValue == 0)
        metrics.iptablesRestoreFailed(partial: true, family: .ipv4)
        metrics.iptablesRestoreFailed(partial: false, family: .ipv4)
        #expect(try test.expectCounter(MetricNames.iptablesRestoreFailuresTotal, v4).totalValue == 2)
        #expect(try test.expectCounter(MetricNames.iptablesPartialRestoreFailuresTotal, v4).totalValue == 1)
    }

    @Test func nftablesFailuresAndConntrack() throws {
        metrics.registerNFTablesCounters(family: .ipv4)
        metrics.nftablesSyncFailed(cleanup: false, family: .ipv4)
        #expect(try test.expectCounter(MetricNames.nftablesSyncFailuresTotal, v4).totalValue == 1)
        #expect(try test.expectCounter(MetricNames.nftablesCleanupFailuresTotal, v4).totalValue == 0)
        metrics.conntrackReconciled(duration: .milliseconds(5), deleted: 3, family: .ipv4)
        metrics.conntrackReconciled(duration: .milliseconds(1), deleted: 0, family: .ipv4)
        #expect(try test.expectCounter(MetricNames.conntrackReconcilerDeletedEntriesTotal, v4).totalValue == 3)
        #expect(try test.expectTimer(MetricNames.conntrackReconcilerSyncDuration, v4).values == [5_000_000, 1_000_000])
    }
}
