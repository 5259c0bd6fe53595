import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import Logging

extension ProxyBuilder {
    /// The nftables backend for `context.family` (kernel modes run one per family), from the configuration.
    ///
    /// The node IP (for `--nodeport-addresses primary`, the nftables default, and the
    /// firewall's node exception) comes from `BackendContext.nodeAddresses(logger:)`, as in
    /// iptables mode. `executor` replaces `nft` (tests check what the flags render).
    static func nftablesBackend(_ context: BackendContext, executor: (any NFTablesExecutor)? = nil) throws -> NFTablesBackend {
        let configuration = context.configuration
        let logger = context.logger.child("nftables")
        let entries = configuration.nodePortAddresses.isEmpty ? ["primary"] : configuration.nodePortAddresses
        let common = try context.kernelModeOptions(
            masqueradeBit: configuration.nftables.masqueradeBit, masqueradeAll: configuration.nftables.masqueradeAll,
            nodePortAddresses: entries, logger: logger)
        if common.nodePortAddresses.cidrs.contains(where: { $0.address.isLoopback }) {
            logger.error(
                "nftables mode does not serve NodePorts on loopback addresses; ignoring them", metadata: ["nodePortAddresses": "\(entries)"]
            )
        }
        let options = NFTRenderOptions(common)
        return NFTablesBackend(
            options: options, executor: executor ?? SystemNFTables(logger: logger),
            detectsByNodeCIDR: configuration.detectLocalMode == "NodeCIDR", logger: logger.child("proxier"))
    }

    /// The observer that turns a kernel mode's `SyncOutcome.ruleFacts` into its metrics
    /// (upstream registers each mode's counters only in that mode, at zero).
    static func kernelModeMetrics(_ mode: KubeProxyConfiguration.Mode, metrics: ProxyMetrics)
        -> (@Sendable (SyncOutcome, IPFamily, Duration) async -> Void)?
    {
        if mode == .iptables {
            return { outcome, family, duration in metrics.recordIPTables(outcome, family: family, duration: duration) }
        }
        guard mode == .nftables else { return nil }
        return { outcome, family, _ in
            metrics.registerNFTablesCounters(family: family)
            for failure in outcome.ruleFacts?.failures ?? [] {
                switch failure {
                case .nftablesSync: metrics.nftablesSyncFailed(cleanup: false, family: family)
                case .nftablesCleanup: metrics.nftablesSyncFailed(cleanup: true, family: family)
                case .restore, .partialRestore: break
                }
            }
        }
    }
}
