/// What both kernel modes (iptables, nftables) take from the configuration and the node for one
/// IP family, as one value: each renderer keeps only its own extras next to it.
///
/// Why one value: the two modes implement the same upstream options (masquerade mark, local
/// traffic detection, `--nodeport-addresses`, topology), and two copies of the fields drifted
/// in names and defaults. A change of any field is a new value, and each mode re-renders
/// everything in a full sync, as upstream does after a node-label change.
public struct KernelModeOptions: Hashable, Sendable {
    /// The family rendered; every address below is of this family.
    public var family: IPFamily
    /// This node's name, zone and topology feature gate, for endpoint selection.
    public var topology: NodeTopology
    /// `--iptables-masquerade-bit` (0...31; nftables mode uses the same flag): the mark
    /// `1 << masqueradeBit` flags packets to masquerade.
    public var masqueradeBit: Int
    /// `--masquerade-all`: masquerade every packet sent to a cluster IP.
    public var masqueradeAll: Bool
    /// How traffic from local pods is recognised (`--detect-local-mode` and friends).
    public var localDetector: LocalTrafficDetector
    /// `--nodeport-addresses` for this family.
    public var nodePortAddresses: NodePortAddresses
    /// The node's primary IPs of this family: `primary` in `--nodeport-addresses`, and a
    /// `loadBalancerSourceRanges` entry containing one lets the node reach the LB IP.
    public var nodeIPs: [IPAddress]
    /// Every local address of this family, for CIDR entries of `--nodeport-addresses`.
    public var localAddresses: Set<IPAddress>

    /// Creates options; addresses of another family are dropped. Defaults are upstream's flag
    /// defaults: bit 14, no masquerade-all, no detector, NodePorts on every address (nftables
    /// mode passes `primary` itself when the flag is empty).
    public init(
        family: IPFamily,
        topology: NodeTopology,
        masqueradeBit: Int = 14,
        masqueradeAll: Bool = false,
        localDetector: LocalTrafficDetector = .none,
        nodePortAddresses: NodePortAddresses? = nil,
        nodeIPs: [IPAddress] = [],
        localAddresses: Set<IPAddress> = []
    ) {
        self.family = family
        self.topology = topology
        self.masqueradeBit = masqueradeBit
        self.masqueradeAll = masqueradeAll
        self.localDetector = localDetector
        self.nodePortAddresses = nodePortAddresses ?? NodePortAddresses([], family: family)
        self.nodeIPs = nodeIPs.filter { $0.family == family }
        self.localAddresses = localAddresses.filter { $0.family == family }
    }

    /// The masquerade mark as both tools print it, e.g. `0x4000` for bit 14.
    ///
    /// Upstream formats it `%#08x` (`0x004000`); the kernel stores a number and every tool
    /// prints `0x4000`, so the short form keeps our input and the tools' listings alike. The
    /// bit is clamped to 0...31 (validation refuses others before a renderer sees them).
    public var masqueradeMark: String {
        "0x" + String(UInt64(1) << UInt64(max(0, min(masqueradeBit, 31))), radix: 16)
    }
}
