import KubeProxyCore

/// Everything the iptables-mode renderer needs besides the snapshot, for one IP family.
///
/// Feature switches, node facts and probed kernel capabilities are plain values here (never
/// globals, never probed by the renderer), so a render is a pure function of snapshot and
/// parameters. Changing any of them makes `IPTablesModeState` re-render everything in a full
/// sync, as upstream does after a node-label change.
public struct IPTablesModeParameters: Hashable, Sendable {
    /// The family rendered: `iptables-restore` (IPv4) or `ip6tables-restore` (IPv6) input.
    public var family: IPFamily
    /// This node's name, zone and topology feature gate, for endpoint selection.
    public var topology: NodeTopology
    /// `--iptables-masquerade-bit` (0...31): the mark `1 << bit` flags packets to masquerade.
    public var masqueradeBit: Int
    /// `--masquerade-all`: masquerade every packet sent to a cluster IP.
    public var masqueradeAll: Bool
    /// How traffic from local pods is recognised (`--detect-local-mode` and friends).
    public var localDetector: LocalTrafficDetector
    /// `--nodeport-addresses` for this family.
    public var nodePortAddresses: NodePortAddresses
    /// This node's local addresses of `family`; used only when `nodePortAddresses` does not
    /// match all addresses (one `KUBE-NODEPORTS` jump per selected address).
    public var nodeAddresses: Set<IPAddress>
    /// The node's primary IPs of `family` (`primary` in `--nodeport-addresses`; a
    /// `loadBalancerSourceRanges` entry containing one lets the node reach the LB IP).
    public var primaryNodeIPs: [IPAddress]
    /// `--iptables-localhost-nodeports` (IPv4 only; see `effectiveLocalhostNodePorts`).
    public var localhostNodePorts: Bool
    /// Whether `MASQUERADE --random-fully` is supported (iptables ≥ 1.6.2).
    public var randomFully: Bool
    /// Whether `net.netfilter.nf_conntrack_tcp_be_liberal` is set; when it is, packets in
    /// conntrack state INVALID are not dropped (upstream `TestDropInvalidRule`).
    public var conntrackTCPBeLiberal: Bool
    /// Whether the nfacct objects `ct_state_invalid_dropped_pkts` and
    /// `localhost_nps_accepted_pkts` exist, so rules may count packets into them.
    public var nfacctAvailable: Bool
    /// Above this many endpoints in total, per-endpoint comments are left out (upstream's
    /// `largeClusterEndpointsThreshold`, 1000).
    public var largeClusterEndpointsThreshold: Int

    /// Creates parameters with upstream's defaults (bit 14, localhost NodePorts on,
    /// `--random-fully` supported, INVALID dropped, no nfacct, match-all NodePort addresses).
    public init(
        family: IPFamily,
        topology: NodeTopology,
        masqueradeBit: Int = 14,
        masqueradeAll: Bool = false,
        localDetector: LocalTrafficDetector = .none,
        nodePortAddresses: NodePortAddresses? = nil,
        nodeAddresses: Set<IPAddress> = [],
        primaryNodeIPs: [IPAddress] = [],
        localhostNodePorts: Bool = true,
        randomFully: Bool = true,
        conntrackTCPBeLiberal: Bool = false,
        nfacctAvailable: Bool = false,
        largeClusterEndpointsThreshold: Int = 1000
    ) {
        self.family = family
        self.topology = topology
        self.masqueradeBit = masqueradeBit
        self.masqueradeAll = masqueradeAll
        self.localDetector = localDetector
        self.nodePortAddresses = nodePortAddresses ?? NodePortAddresses([], family: family)
        self.nodeAddresses = nodeAddresses
        self.primaryNodeIPs = primaryNodeIPs
        self.localhostNodePorts = localhostNodePorts
        self.randomFully = randomFully
        self.conntrackTCPBeLiberal = conntrackTCPBeLiberal
        self.nfacctAvailable = nfacctAvailable
        self.largeClusterEndpointsThreshold = largeClusterEndpointsThreshold
    }

    /// The masquerade mark as iptables prints it, e.g. `0x4000` for bit 14.
    ///
    /// Upstream formats it `%#08x` (`0x004000`); the kernel stores a number and every tool
    /// prints `0x4000`, so the short form keeps our input and `iptables-save` alike.
    public var masqueradeMark: String {
        "0x" + String(UInt64(1) << UInt64(max(0, min(masqueradeBit, 31))), radix: 16)
    }

    /// `mark/mask` for matching the masquerade mark.
    var masqueradeMarkMask: String { "\(masqueradeMark)/\(masqueradeMark)" }

    /// Whether NodePorts answer on 127.0.0.0/8: IPv4 only, the flag on, and
    /// `--nodeport-addresses` matching 127.0.0.1 (upstream turns the flag off otherwise).
    /// When true the runtime must set `net.ipv4.conf.all.route_localnet=1`, and the
    /// `KUBE-FIREWALL` guard against spoofed localnet sources is rendered.
    public var effectiveLocalhostNodePorts: Bool {
        guard family == .ipv4, localhostNodePorts else { return false }
        if nodePortAddresses.matchesAll { return true }
        let loopback = IPAddress.v4(0x7f00_0001)
        return nodePortAddresses.cidrs.contains { $0.contains(loopback) }
    }

    /// The loopback prefix of the family, as written in rules.
    var loopbackPrefix: String { family == .ipv4 ? "127.0.0.0/8" : "::1/128" }

    /// The destinations `KUBE-SERVICES` sends to `KUBE-NODEPORTS` when `--nodeport-addresses`
    /// is set: the selected local addresses, without loopback ones NodePorts cannot use.
    var nodePortDestinations: [IPAddress] {
        nodePortAddresses.addresses(local: nodeAddresses, primary: primaryNodeIPs).filter { address in
            !address.isLoopback || (family == .ipv4 && effectiveLocalhostNodePorts)
        }
    }
}
