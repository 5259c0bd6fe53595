import KubeProxyCore
import Metrics

/// Turns facts the proxy hands over (a sync finished, changes were taken, a health endpoint
/// answered) into upstream-compatible metrics through swift-metrics. The data plane's counters
/// go to `DataPlaneMetrics` instead, which renders them at scrape time.
///
/// Why facts in, metrics out: Core and the data plane stay free of metrics (docs/design.md#observability-passed-in); the
/// controller reports what happened and this type owns names, labels and conversions. The
/// `MetricsFactory` is injected, so tests read values back with MetricsTestKit and the process
/// exports through a `PrometheusCollectorRegistry` (see `prometheusFactory(registry:)`).
public final class ProxyMetrics: Sendable {
    /// Which health endpoint answered.
    public enum HealthEndpoint: Sendable {
        case healthz
        case livez
    }

    let factory: any MetricsFactory
    private let endpointChangesPending: Gauge
    private let serviceChangesPending: Gauge
    private let endpointChangesTotal: Counter
    private let serviceChangesTotal: Counter

    /// Creates the metrics and registers the unlabelled ones at zero, so scrapes see them before
    /// the first sync (upstream registers everything at start).
    public init(factory: any MetricsFactory) {
        self.factory = factory
        endpointChangesPending = Gauge(label: MetricNames.endpointChangesPending, factory: factory)
        serviceChangesPending = Gauge(label: MetricNames.serviceChangesPending, factory: factory)
        endpointChangesTotal = Counter(label: MetricNames.endpointChangesTotal, factory: factory)
        serviceChangesTotal = Counter(label: MetricNames.serviceChangesTotal, factory: factory)
        endpointChangesPending.record(0)
        serviceChangesPending.record(0)
        endpointChangesTotal.increment(by: 0)
        serviceChangesTotal.increment(by: 0)
    }

    /// A sync of `family` succeeded after `duration`, finishing at `time`.
    public func syncCompleted(duration: Duration, family: IPFamily, at time: WallTime) {
        let labels = [(MetricNames.ipFamilyLabel, family.rawValue)]
        Timer(label: MetricNames.syncProxyRulesDuration, dimensions: labels, factory: factory)
            .record(duration: max(duration, .zero))
        Gauge(label: MetricNames.syncProxyRulesLastTimestamp, dimensions: labels, factory: factory)
            .record(time.secondsSinceEpoch)
    }

    /// A sync of `family` was requested at `time`.
    public func syncQueued(family: IPFamily, at time: WallTime) {
        Gauge(
            label: MetricNames.syncProxyRulesLastQueuedTimestamp,
            dimensions: [(MetricNames.ipFamilyLabel, family.rawValue)], factory: factory
        ).record(time.secondsSinceEpoch)
    }

    /// How many Service and endpoint changes are recorded and not yet synced.
    public func pendingChanges(services: Int, endpoints: Int) {
        serviceChangesPending.record(services)
        endpointChangesPending.record(endpoints)
    }

    /// A sync took this many Service and endpoint changes.
    public func changesTaken(services: Int, endpoints: Int) {
        serviceChangesTotal.increment(by: max(services, 0))
        endpointChangesTotal.increment(by: max(endpoints, 0))
    }

    /// Observes the network programming latency of every changed endpoint source, from its
    /// `endpoints.kubernetes.io/last-change-trigger-time` value to `now` (upstream observes the
    /// same after each successful sync). A trigger time in the future (clock skew) counts as 0.
    /// Returns the values that are not RFC 3339, so the caller can log them.
    @discardableResult
    public func networkProgrammingLatency(triggerTimes: [String], family: IPFamily, now: WallTime) -> [String] {
        let timer = Timer(
            label: MetricNames.networkProgrammingDuration,
            dimensions: [(MetricNames.ipFamilyLabel, family.rawValue)], factory: factory)
        var rejected: [String] = []
        for text in triggerTimes {
            guard let trigger = WallTime(rfc3339: text) else {
                rejected.append(text)
                continue
            }
            timer.record(duration: max(trigger.duration(to: now), .zero))
        }
        return rejected
    }

    /// How many Services of `family` have a Local internal / external traffic policy and no
    /// local endpoint.
    public func noLocalEndpoints(internal: Int, external: Int, family: IPFamily) {
        for (policy, count) in [("internal", `internal`), ("external", external)] {
            Gauge(
                label: MetricNames.noLocalEndpoints,
                dimensions: [(MetricNames.ipFamilyLabel, family.rawValue), (MetricNames.trafficPolicyLabel, policy)],
                factory: factory
            ).record(count)
        }
    }

    /// A health endpoint answered with `code`.
    public func healthCheckServed(_ endpoint: HealthEndpoint, code: Int) {
        let name = endpoint == .healthz ? MetricNames.healthzTotal : MetricNames.livezTotal
        Counter(label: name, dimensions: [(MetricNames.codeLabel, String(code))], factory: factory).increment()
    }
}
