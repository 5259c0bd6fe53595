import KubeProxyCore

/// Everything about this node and its configuration that shapes the ruleset, as one value
/// (never globals), so a change is a new value and a full resync: the options both kernel
/// modes share (`common`, read through as `options.family`, `options.topology.zone`, …) and
/// the nftables-only ones.
@dynamicMemberLookup
public struct NFTRenderOptions: Hashable, Sendable {
    /// Family, topology, masquerading, local-traffic detection, `--nodeport-addresses` (nftables
    /// mode defaults to `primary`; the builder passes it) and the node's addresses.
    public var common: KernelModeOptions
    /// The ServiceCIDRs of this family: packets to an unallocated address in them are dropped.
    public var serviceCIDRs: [CIDR]
    /// Balance with one `numgen` rule per endpoint instead of upstream's anonymous verdict map
    /// per service chain; chosen by ``setlessBalancing(servicePorts:current:)`` from the
    /// cluster's size (README, "Where we differ from upstream on purpose").
    public var setlessBalancing: Bool = false

    /// Above this many service ports the table balances without sets: the kernel's cost of
    /// binding and naming anonymous sets grows with the square of their number.
    public static let setlessBalancingAbove = 1000
    /// At or below this many service ports the table returns to upstream's verdict maps; the
    /// gap keeps a cluster hovering near the threshold from rewriting every chain each time.
    public static let setBalancingAtOrBelow = 800

    /// Whether a table of `servicePorts` service ports balances without sets, given the
    /// current choice (hysteresis between ``setBalancingAtOrBelow`` and
    /// ``setlessBalancingAbove``).
    public static func setlessBalancing(servicePorts: Int, current: Bool) -> Bool {
        current ? servicePorts > setBalancingAtOrBelow : servicePorts > setlessBalancingAbove
    }

    /// Creates options; ServiceCIDRs of another family are dropped.
    public init(_ common: KernelModeOptions, serviceCIDRs: [CIDR] = []) {
        self.common = common
        self.serviceCIDRs = serviceCIDRs.filter { $0.address.family == common.family }
    }

    /// The shared options' fields, read and written as if they were this type's own.
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<KernelModeOptions, Value>) -> Value {
        get { common[keyPath: keyPath] }
        set { common[keyPath: keyPath] = newValue }
    }

    /// The shared options' derived values (`masqueradeMark`), read as if they were this type's own.
    public subscript<Value>(dynamicMember keyPath: KeyPath<KernelModeOptions, Value>) -> Value {
        common[keyPath: keyPath]
    }

    /// The node addresses that accept NodePorts (nodeport-ips), or `nil` when every local
    /// address does. Loopback addresses never do in nftables mode (spec §3.6).
    public var nodePortIPs: [IPAddress]? {
        if common.nodePortAddresses.matchesAll { return nil }
        return common.nodePortAddresses.addresses(local: common.localAddresses, primary: common.nodeIPs).filter { !$0.isLoopback }
    }

    /// `ip saddr 10.0.0.0/8` / `iifname "cbr0"` / `iifname "veth*"`: matches pod traffic.
    public var ifLocal: String? { detectorMatch(negated: false) }
    /// The negation of `ifLocal`.
    public var ifNotLocal: String? { detectorMatch(negated: true) }

    private func detectorMatch(negated: Bool) -> String? {
        let op = negated ? "!= " : ""
        switch common.localDetector {
        case .none: return nil
        case .cidr(let cidr): return "\(NFTFamily(common.family)) saddr \(op)\(cidr)"
        case .bridgeInterface(let name): return "iifname \(op)\"\(name)\""
        case .interfaceNamePrefix(let prefix): return "iifname \(op)\"\(prefix)*\""
        }
    }
}
