import KubeProxyCore
import MetricsTestKit
import Testing

@testable import KubeProxyRuntime

/// The nftables mode's outcome observer: failures in `ruleFacts` become upstream's counters,
/// which exist (at zero) from the first sync; other modes get no such observer.
struct NFTablesMetricsObserverTests {
    @Test func failuresBecomeTheNFTablesCounters() async throws {
        let test = TestMetrics()
        let metrics = ProxyMetrics(factory: test)
        let observe = try #require(ProxyBuilder.kernelModeMetrics(.nftables, metrics: metrics))
        let v4 = [("ip_family", "IPv4")]
        await observe(SyncOutcome(result: .succeeded, ruleFacts: .init()), .ipv4, .zero)
        #expect(try test.expectCounter(MetricNames.nftablesSyncFailuresTotal, v4).totalValue == 0)
        #expect(try test.expectCounter(MetricNames.nftablesCleanupFailuresTotal, v4).totalValue == 0)
        await observe(
            SyncOutcome(result: .failed(reason: "x"), ruleFacts: .init(failures: [.nftablesCleanup, .nftablesSync])), .ipv4, .zero)
        await observe(SyncOutcome(result: .succeeded, ruleFacts: .init(failures: [.nftablesCleanup])), .ipv4, .zero)
        #expect(try test.expectCounter(MetricNames.nftablesSyncFailuresTotal, v4).totalValue == 1)
        #expect(try test.expectCounter(MetricNames.nftablesCleanupFailuresTotal, v4).totalValue == 2)
        #expect(ProxyBuilder.kernelModeMetrics(.userspace, metrics: metrics) == nil)
    }
}
