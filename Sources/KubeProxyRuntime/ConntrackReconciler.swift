import KubeProxyCore
import KubeProxyHost
import Logging

/// Runs the UDP conntrack deletes `ConntrackCleanup` plans after a kernel-mode sync, and
/// reports them as upstream's reconciler metrics.
///
/// Why an actor of its own: the deletes run a tool per filter; keeping them apart from the
/// backend means every kernel mode gets the same cleanup, and a failure only costs a warning
/// (the flows expire on their own; nothing is retried in a loop).
public actor ConntrackReconciler {
    private let executor: any ConntrackExecutor
    private let metrics: ProxyMetrics?
    private let logger: Logger

    /// Creates a reconciler running `executor`.
    public init(executor: any ConntrackExecutor, metrics: ProxyMetrics?, logger: Logger) {
        self.executor = executor
        self.metrics = metrics
        self.logger = logger
    }

    /// Runs every delete in `filters`; returns how many entries went.
    @discardableResult
    public func reconcile(_ filters: [ConntrackCleanup.Filter], family: IPFamily) async -> Int {
        let started = ContinuousClock.now
        var deleted = 0
        for filter in filters {
            do {
                deleted += try await executor.deleteUDPFlows(matching: filter)
            } catch {
                logger.warning(
                    "could not delete stale UDP conntrack entries", metadata: ["flows": "\(filter)", "error": "\(error)"])
            }
        }
        if deleted > 0 { logger.debug("deleted stale UDP conntrack entries", metadata: ["entries": "\(deleted)"]) }
        metrics?.conntrackReconciled(duration: ContinuousClock.now - started, deleted: deleted, family: family)
        return deleted
    }
}
