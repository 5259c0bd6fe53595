/// Where this proxy runs: the facts endpoint selection needs about the local node.
///
/// Passed in as a value (never read from a global) so selection stays a pure function and a
/// node-label change is just a new value followed by a full resync.
public struct NodeTopology: Hashable, Sendable {
    /// This node's name (`--hostname-override` or the host name); endpoints whose `nodeName`
    /// equals it are local.
    public var nodeName: String
    /// The node's `topology.kubernetes.io/zone` label, compared with zone hints; `nil` when
    /// the label is missing, which disables zone-based filtering.
    public var zone: String?
    /// The `PreferSameTrafficDistribution` feature gate (GA since 1.35): whether node hints
    /// (`trafficDistribution: PreferSameNode`) are honoured.
    public var preferSameTrafficDistribution: Bool

    /// Creates a topology; node hints are honoured by default, as in current upstream.
    public init(nodeName: String, zone: String? = nil, preferSameTrafficDistribution: Bool = true) {
        self.nodeName = nodeName
        self.zone = zone
        self.preferSameTrafficDistribution = preferSameTrafficDistribution
    }
}
