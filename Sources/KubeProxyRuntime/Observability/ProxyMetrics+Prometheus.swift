import Prometheus

extension ProxyMetrics {
    /// A swift-metrics factory that records into `registry` with upstream's histogram buckets.
    ///
    /// swift-prometheus turns swift-metrics `Timer`s into duration histograms and lets buckets be
    /// set per metric name; without this, sync and network programming latencies would use its
    /// generic 5 ms…10 s layout and no upstream dashboard quantile would match.
    public static func prometheusFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = MetricNames.durationBuckets
        return factory
    }

    /// Metrics recording into `registry` (what the process serves on `/metrics`).
    public convenience init(registry: PrometheusCollectorRegistry) {
        self.init(factory: Self.prometheusFactory(registry: registry))
    }
}
