import KubeProxyCore

/// Everything about this node and its configuration that shapes the ruleset, as one value
/// (never globals), so a change is a new value and a full resync.
public struct NFTRenderOptions: Hashable, Sendable {
    /// The family this table serves; every address below is filtered to it.
    public var family: IPFamily
    /// Node name, zone and feature switches for endpoint selection.
    public var topology: NodeTopology
    /// `--iptables-masquerade-bit` (upstream uses the same flag in nftables mode): the mark is
    /// `1 << masqueradeBit`.
    public var masqueradeBit: Int
    /// `--masquerade-all`: masquerade every ClusterIP connection.
    public var masqueradeAll: Bool
    /// How pod traffic is told from other traffic.
    public var localDetector: LocalTrafficDetector
    /// `--nodeport-addresses` (nftables mode defaults to `primary`).
    public var nodePortAddresses: NodePortAddresses
    /// The node's primary IPs of this family (for `primary` and the firewall's node exception).
    public var nodeIPs: [IPAddress]
    /// Every local address of this family (for CIDR entries of `--nodeport-addresses`).
    public var localAddresses: Set<IPAddress>
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

    /// Creates options; defaults follow upstream's nftables mode (bit 14, nodeport addresses
    /// `primary`, no detector).
    public init(
        family: IPFamily,
        topology: NodeTopology,
        masqueradeBit: Int = 14,
        masqueradeAll: Bool = false,
        localDetector: LocalTrafficDetector = .none,
        nodePortAddresses: NodePortAddresses? = nil,
        nodeIPs: [IPAddress] = [],
        localAddresses: Set<IPAddress> = [],
        serviceCIDRs: [CIDR] = []
    ) {
        self.family = family
        self.topology = topology
        self.masqueradeBit = masqueradeBit
        self.masqueradeAll = masqueradeAll
        self.localDetector = localDetector
        self.nodePortAddresses = nodePortAddresses ?? NodePortAddresses(["primary"], family: family)
        self.nodeIPs = nodeIPs.filter { $0.family == family }
        self.localAddresses = localAddresses.filter { $0.family == family }
        self.serviceCIDRs = serviceCIDRs.filter { $0.address.family == family }
    }

    /// The masquerade mark as nft prints it (`0x4000`).
    public var masqueradeMark: String { "0x" + String(1 << masqueradeBit, radix: 16) }

    /// The node addresses that accept NodePorts (nodeport-ips), or `nil` when every local
    /// address does. Loopback addresses never do in nftables mode (spec §3.6).
    public var nodePortIPs: [IPAddress]? {
        if nodePortAddresses.matchesAll { return nil }
        return nodePortAddresses.addresses(local: localAddresses, primary: nodeIPs).filter { !$0.isLoopback }
    }

    /// `ip saddr 10.0.0.0/8` / `iifname "cbr0"` / `iifname "veth*"`: matches pod traffic.
    public var ifLocal: String? { detectorMatch(negated: false) }
    /// The negation of `ifLocal`.
    public var ifNotLocal: String? { detectorMatch(negated: true) }

    private func detectorMatch(negated: Bool) -> String? {
        let op = negated ? "!= " : ""
        switch localDetector {
        case .none: return nil
        case .cidr(let cidr): return "\(NFTFamily(family)) saddr \(op)\(cidr)"
        case .bridgeInterface(let name): return "iifname \(op)\"\(name)\""
        case .interfaceNamePrefix(let prefix): return "iifname \(op)\"\(prefix)*\""
        }
    }
}
