import KubeProxyDataPlane
import ServiceLifecycle

/// Hands the data plane's statistics to the metrics every few seconds.
///
/// Why its own service and not a controller method: the controller actor runs the syncs, and
/// anything done on it delays the next one (this used to register per-port series there and
/// held the first sync for minutes at 10,000 ports). This service talks to the data plane and
/// the metrics only; a report is one pass over the listeners' atomics and a dictionary swap.
struct StatisticsService: ServiceLifecycle.Service, CustomStringConvertible {
    /// `statistics`, for service-group logs.
    var description: String { "statistics" }
    /// Where the statistics come from.
    let dataPlane: any UserspaceDataPlane
    /// Where they go.
    let metrics: DataPlaneMetrics
    /// Time between reports; scrapes see values at most this old.
    var interval: Duration = .seconds(5)

    /// Reports once right away (so a first scrape has listeners' series), then every `interval`
    /// until graceful shutdown.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await publish()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One report: the data plane's current statistics into the metrics; listeners that have
    /// counted nothing are left out unless the series are per service port.
    func publish() async {
        metrics.record(await dataPlane.statistics(includingIdle: metrics.perServicePort))
    }
}
