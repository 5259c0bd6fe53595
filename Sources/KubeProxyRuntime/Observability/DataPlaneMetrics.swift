import KubeProxyCore
import KubeProxyDataPlane
import Synchronization

/// The `kubeproxy_userspace_*` data-plane metrics: the latest statistics of every listener,
/// folded into totals and written straight into the `/metrics` text at scrape time.
///
/// Why not swift-metrics counters like the sync metrics: one registered series per service port
/// made the scrape grow with the cluster (6 MB at 10,000 ports) and registering them was
/// quadratic (the registry copies itself for each new series: two minutes for the first report
/// of 10,000 ports, in a debug build). Here a report only swaps a dictionary and adds up
/// integers, and the text is rendered from a snapshot when a scraper asks.
///
/// By default the series are per protocol (a constant dozen, whatever the number of Services);
/// `perServicePort` (`--metrics-per-service-port`) adds the `service_port` label instead, one
/// set of series per open listener, as the per-service series upstream keeps off by default.
public final class DataPlaneMetrics: Sendable {
    /// Whether the series carry a `service_port` label (one set per listener) rather than being
    /// totals per protocol.
    public let perServicePort: Bool
    private let totals = Mutex(DataPlaneTotals())

    /// Creates the metrics; nothing is reported until the first `record`, but the per-protocol
    /// series are exported at zero from the start (upstream registers everything at start).
    public init(perServicePort: Bool = false) {
        self.perServicePort = perServicePort
    }

    /// Takes a report of every open listener's cumulative statistics (`UserspaceProxy.statistics()`).
    /// Cost: one pass over `stats`; nothing is registered or rendered here.
    public func record(_ stats: [ServicePortName: ListenerStatistics]) {
        totals.withLock { $0.report(stats) }
    }

    /// Appends the series in the Prometheus text format (what `MetricsServer` serves after the
    /// registry's own metrics).
    public func emit(into buffer: inout [UInt8]) {
        let snapshot = totals.withLock { $0 }
        if perServicePort {
            Self.emitPerServicePort(snapshot.ports, into: &buffer)
        } else {
            Self.emitPerProtocol(snapshot.byProtocol, into: &buffer)
        }
    }

    /// The series as text, for tests and diagnostics.
    public func emitToString() -> String {
        var buffer: [UInt8] = []
        emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
