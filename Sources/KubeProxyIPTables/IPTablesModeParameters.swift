import KubeProxyCore

/// Everything the iptables-mode renderer needs besides the snapshot, for one IP family: the
/// options both kernel modes share (`common`, read through as `parameters.family`,
/// `parameters.topology.zone`, …) and the iptables-only switches.
///
/// Feature switches, node facts and probed kernel capabilities are plain values here (never
/// globals, never probed by the renderer), so a render is a pure function of snapshot and
/// parameters. Changing any of them makes `IPTablesModeState` re-render everything in a full
/// sync, as upstream does after a node-label change.
@dynamicMemberLookup
public struct IPTablesModeParameters: Hashable, Sendable {
    /// Family, topology, masquerading, local-traffic detection, `--nodeport-addresses` and the
    /// node's addresses: what the nftables renderer takes too.
    public var common: KernelModeOptions
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

    /// Creates parameters with upstream's defaults (localhost NodePorts on, `--random-fully`
    /// supported, INVALID dropped, no nfacct).
    public init(
        _ common: KernelModeOptions,
        localhostNodePorts: Bool = true,
        randomFully: Bool = true,
        conntrackTCPBeLiberal: Bool = false,
        nfacctAvailable: Bool = false,
        largeClusterEndpointsThreshold: Int = 1000
    ) {
        self.common = common
        self.localhostNodePorts = localhostNodePorts
        self.randomFully = randomFully
        self.conntrackTCPBeLiberal = conntrackTCPBeLiberal
        self.nfacctAvailable = nfacctAvailable
        self.largeClusterEndpointsThreshold = largeClusterEndpointsThreshold
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

    /// `mark/mask` for matching the masquerade mark.
    var masqueradeMarkMask: String { "\(common.masqueradeMark)/\(common.masqueradeMark)" }

    /// Whether NodePorts answer on 127.0.0.0/8: IPv4 only, the flag on, and
    /// `--nodeport-addresses` matching 127.0.0.1 (upstream turns the flag off otherwise).
    /// When true the runtime must set `net.ipv4.conf.all.route_localnet=1`, and the
    /// `KUBE-FIREWALL` guard against spoofed localnet sources is rendered.
    public var effectiveLocalhostNodePorts: Bool {
        guard common.family == .ipv4, localhostNodePorts else { return false }
        if common.nodePortAddresses.matchesAll { return true }
        let loopback = IPAddress.v4(0x7f00_0001)
        return common.nodePortAddresses.cidrs.contains { $0.contains(loopback) }
    }

    /// The loopback prefix of the family, as written in rules.
    var loopbackPrefix: String { common.family == .ipv4 ? "127.0.0.0/8" : "::1/128" }

    /// The destinations `KUBE-SERVICES` sends to `KUBE-NODEPORTS` when `--nodeport-addresses`
    /// is set: the selected local addresses, without loopback ones NodePorts cannot use.
    var nodePortDestinations: [IPAddress] {
        common.nodePortAddresses.addresses(local: common.localAddresses, primary: common.nodeIPs).filter { address in
            !address.isLoopback || (common.family == .ipv4 && effectiveLocalhostNodePorts)
        }
    }
}
