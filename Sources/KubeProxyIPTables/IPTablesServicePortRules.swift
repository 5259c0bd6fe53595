import KubeProxyCore

/// Everything the iptables mode renders for one service port (spec §2.3).
///
/// Split the way partial sync needs it: the rules in the shared top-level chains are written on
/// every sync (those chains are rewritten whole), the per-service nat chains only when the
/// service port changed. Keeping both in one value lets `IPTablesModeState` cache a port's
/// render and re-use it until the port or its endpoints change.
public struct IPTablesServicePortRules: Hashable, Sendable {
    /// Rules for the filter chains `KUBE-SERVICES`, `KUBE-EXTERNAL-SERVICES`, `KUBE-NODEPORTS`
    /// and `KUBE-PROXY-FIREWALL`, in upstream's order.
    public var filterRules: [IPTablesRule]
    /// Rules for the nat chains `KUBE-SERVICES` and `KUBE-NODEPORTS`, in upstream's order.
    public var natRules: [IPTablesRule]
    /// The per-service nat chains (`KUBE-EXT`, `KUBE-FW`, `KUBE-SVC`, `KUBE-SVL`, `KUBE-SEP`),
    /// each non-empty and each reached from `natRules` or from another of them.
    public var chains: [IPTablesChain]
    /// Whether the port has endpoints but none local for its Local internal traffic policy
    /// (ClusterIP traffic is dropped; `kubeproxy_sync_proxy_rules_no_local_endpoints_total`).
    public var noLocalEndpointsInternal: Bool
    /// Whether the port has endpoints but none local for its Local external traffic policy.
    public var noLocalEndpointsExternal: Bool

    /// Creates a render result.
    public init(
        filterRules: [IPTablesRule] = [], natRules: [IPTablesRule] = [], chains: [IPTablesChain] = [],
        noLocalEndpointsInternal: Bool = false, noLocalEndpointsExternal: Bool = false
    ) {
        self.filterRules = filterRules
        self.natRules = natRules
        self.chains = chains
        self.noLocalEndpointsInternal = noLocalEndpointsInternal
        self.noLocalEndpointsExternal = noLocalEndpointsExternal
    }

    /// The number of rules in `chains`.
    public var chainRuleCount: Int { chains.reduce(0) { $0 + $1.rules.count } }
}
