import KubeProxyCore
import Metrics

/// The facts the kernel-mode backends report, as upstream's mode-specific metrics.
///
/// Each is created on first use, so a mode exports only its own (upstream registers the
/// iptables ones only in iptables mode and the nftables ones only in nftables mode).
extension ProxyMetrics {
    /// A sync of `family` finished after `duration`; `full` tells a full from a partial one
    /// (iptables mode keeps separate histograms for each).
    public func kernelSyncCompleted(full: Bool, duration: Duration, family: IPFamily) {
        Timer(
            label: full ? MetricNames.syncFullProxyRulesDuration : MetricNames.syncPartialProxyRulesDuration,
            dimensions: [(MetricNames.ipFamilyLabel, family.rawValue)], factory: factory
        ).record(duration: max(duration, .zero))
    }

    /// iptables rules per table: `owned` after the sync, `written` by its restore.
    public func iptablesRules(owned: [String: Int], written: [String: Int], family: IPFamily) {
        for (table, count) in owned {
            Gauge(label: MetricNames.iptablesTotal, dimensions: labels(family, table: table), factory: factory).record(count)
        }
        for (table, count) in written {
            Gauge(label: MetricNames.iptablesLast, dimensions: labels(family, table: table), factory: factory).record(count)
        }
    }

    /// An `iptables-restore` failed; `partial` when it was a partial sync's.
    public func iptablesRestoreFailed(partial: Bool, family: IPFamily) {
        Counter(label: MetricNames.iptablesRestoreFailuresTotal, dimensions: labels(family), factory: factory).increment()
        if partial {
            Counter(label: MetricNames.iptablesPartialRestoreFailuresTotal, dimensions: labels(family), factory: factory)
                .increment()
        }
    }

    /// Creates the iptables failure counters at zero, so they are scraped before any failure.
    public func registerIPTablesCounters(family: IPFamily) {
        for name in [MetricNames.iptablesRestoreFailuresTotal, MetricNames.iptablesPartialRestoreFailuresTotal] {
            Counter(label: name, dimensions: labels(family), factory: factory).increment(by: 0)
        }
    }

    /// An `nft -f` transaction failed (`cleanup`: the one deleting stale chains).
    public func nftablesSyncFailed(cleanup: Bool, family: IPFamily) {
        let name = cleanup ? MetricNames.nftablesCleanupFailuresTotal : MetricNames.nftablesSyncFailuresTotal
        Counter(label: name, dimensions: labels(family), factory: factory).increment()
    }

    /// Creates the nftables failure counters at zero.
    public func registerNFTablesCounters(family: IPFamily) {
        for name in [MetricNames.nftablesSyncFailuresTotal, MetricNames.nftablesCleanupFailuresTotal] {
            Counter(label: name, dimensions: labels(family), factory: factory).increment(by: 0)
        }
    }

    /// A UDP conntrack cleanup took `duration` and deleted `deleted` entries.
    public func conntrackReconciled(duration: Duration, deleted: Int, family: IPFamily) {
        Timer(label: MetricNames.conntrackReconcilerSyncDuration, dimensions: labels(family), factory: factory)
            .record(duration: max(duration, .zero))
        Counter(label: MetricNames.conntrackReconcilerDeletedEntriesTotal, dimensions: labels(family), factory: factory)
            .increment(by: deleted)
    }

    private func labels(_ family: IPFamily, table: String? = nil) -> [(String, String)] {
        var labels = [(MetricNames.ipFamilyLabel, family.rawValue)]
        if let table { labels.append((MetricNames.tableLabel, table)) }
        return labels
    }
}
