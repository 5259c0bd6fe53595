/// The five chains the userspace proxy owns (docs/userspace-behaviour.md#portal-chains), with the table each lives in.
///
/// These names are public contract: operators grep for them and other tools (and our own
/// `--cleanup`) find our rules by them. Nothing outside these chains is ever written by the
/// userspace backend except the five parent jumps (`ParentJump`).
public enum PortalChain: String, CaseIterable, Hashable, Sendable, Comparable {
    /// nat: ClusterIP / external IP / LB IP traffic arriving from outside the host netns.
    case portalsContainer = "KUBE-PORTALS-CONTAINER"
    /// nat: the same for traffic generated on the host.
    case portalsHost = "KUBE-PORTALS-HOST"
    /// nat: NodePort traffic arriving from outside the host netns.
    case nodePortContainer = "KUBE-NODEPORT-CONTAINER"
    /// nat: NodePort traffic generated on the host.
    case nodePortHost = "KUBE-NODEPORT-HOST"
    /// filter: ACCEPT redirected NodePort traffic in INPUT, past default-deny firewalls.
    case nodePortNonLocal = "KUBE-NODEPORT-NON-LOCAL"

    /// The table holding the chain.
    public var table: String { self == .nodePortNonLocal ? "filter" : "nat" }

    /// The tables we write, in the order our restore input lists them.
    public static let tables = ["nat", "filter"]

    /// The chains of `table`, in declaration order.
    public static func chains(in table: String) -> [PortalChain] {
        allCases.filter { $0.table == table }
    }

    public static func < (lhs: PortalChain, rhs: PortalChain) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}
