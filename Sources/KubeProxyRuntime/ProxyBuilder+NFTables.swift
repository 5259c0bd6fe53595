import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import Logging

extension ProxyBuilder {
    /// The nftables backend for `context.family` (kernel modes run one per family), from the configuration.
    ///
    /// The node IP (for `--nodeport-addresses primary`, the nftables default, and the
    /// firewall's node exception) is `--bind-address` when it names one of this family, else the address of the
    /// default route; when neither exists it is a warning and loopback is assumed, as upstream.
    static func nftablesBackend(_ context: BackendContext) throws -> NFTablesBackend {
        let configuration = context.configuration
        let family = context.family
        let logger = context.logger.child("nftables")
        let detector: LocalTrafficDetector
        do {
            detector = try LocalTrafficDetector.make(
                mode: configuration.detectLocalMode, clusterCIDR: configuration.clusterCIDR,
                bridgeInterface: configuration.detectLocal.bridgeInterface,
                interfaceNamePrefix: configuration.detectLocal.interfaceNamePrefix, family: family)
        } catch {
            throw KubeProxyConfiguration.Problem(field: error.field, message: error.message)
        }
        if detector == .none {
            logger.info(
                "no local-traffic detector for this family; ClusterIP traffic is not masqueraded by source",
                metadata: ["family": "\(family)"])
        }
        let nodeIP: IPAddress
        if !configuration.bindAddress.isUnspecified && configuration.bindAddress.family == family {
            nodeIP = configuration.bindAddress
        } else if let primary = try? LocalAddresses.primaryAddress(family: family) {
            nodeIP = primary
        } else {
            nodeIP = family == .ipv4 ? .v4(0x7f00_0001) : .v6(0, 1)
            logger.warning("could not determine the node IP; assuming loopback", metadata: ["nodeIP": "\(nodeIP)"])
        }
        let entries = configuration.nodePortAddresses.isEmpty ? ["primary"] : configuration.nodePortAddresses
        let nodePortAddresses = NodePortAddresses(entries, family: family)
        if nodePortAddresses.cidrs.contains(where: { $0.address.isLoopback }) {
            logger.error(
                "nftables mode does not serve NodePorts on loopback addresses; ignoring them", metadata: ["nodePortAddresses": "\(entries)"]
            )
        }
        let localAddresses = (try? LocalAddresses.current()) ?? []
        let options = NFTRenderOptions(
            family: family, topology: NodeTopology(nodeName: context.nodeName),
            masqueradeBit: configuration.nftables.masqueradeBit, masqueradeAll: configuration.nftables.masqueradeAll,
            localDetector: detector, nodePortAddresses: nodePortAddresses, nodeIPs: [nodeIP], localAddresses: localAddresses)
        return NFTablesBackend(
            options: options, executor: SystemNFTables(logger: logger),
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
