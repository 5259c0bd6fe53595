/// One of the five jumps from a built-in chain into a portal chain (docs/userspace-behaviour.md#parent-jumps).
///
/// The argument lists are upstream's, byte for byte, so a node switched between upstream's
/// userspace proxy and ours ends with one copy of each jump, never two. Portal jumps (J1, J2,
/// J5) must be the first rule of their chain so service portals win over anything else;
/// NodePort jumps (J3, J4) must be the last so a load-balancer IP that is also a local address
/// is handled as a portal, not captured by a NodePort of the same number.
public struct ParentJump: Hashable, Sendable {
    /// Where in its chain the jump must sit.
    public enum Position: Hashable, Sendable {
        /// Rule number 1.
        case first
        /// The last rule.
        case last
    }

    /// `J1`…`J5`, for messages and tests.
    public var name: String
    /// The chain the jump goes to; its table is the jump's table.
    public var target: PortalChain
    /// The built-in chain holding the jump.
    public var chain: String
    /// Where the jump must sit in `chain`.
    public var position: Position
    /// The exact argument list after `-A CHAIN`.
    public var arguments: [String]

    /// The table of the jump (that of its target).
    public var table: String { target.table }

    /// The jump as a rule.
    public var rule: IPTablesRule { IPTablesRule(chain: chain, arguments: arguments) }

    /// The jump's structure, for recognising it in iptables-save's spelling.
    public var portalRule: PortalRule? { PortalRule(rule) }

    static let portalComment = "handle ClusterIPs; NOTE: this must be before the NodePort rules"
    static let nodePortComment = "handle service NodePorts; NOTE: this must be the last rule in the chain"

    /// J1: nat PREROUTING → KUBE-PORTALS-CONTAINER, first.
    public static let portalsContainer = ParentJump(
        name: "J1", target: .portalsContainer, chain: "PREROUTING", position: .first,
        arguments: ["-m", "comment", "--comment", portalComment, "-j", PortalChain.portalsContainer.rawValue])
    /// J2: nat OUTPUT → KUBE-PORTALS-HOST, first.
    public static let portalsHost = ParentJump(
        name: "J2", target: .portalsHost, chain: "OUTPUT", position: .first,
        arguments: ["-m", "comment", "--comment", portalComment, "-j", PortalChain.portalsHost.rawValue])
    /// J3: nat PREROUTING (local destinations) → KUBE-NODEPORT-CONTAINER, last.
    public static let nodePortContainer = ParentJump(
        name: "J3", target: .nodePortContainer, chain: "PREROUTING", position: .last,
        arguments: [
            "-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", nodePortComment,
            "-j", PortalChain.nodePortContainer.rawValue,
        ])
    /// J4: nat OUTPUT (local destinations) → KUBE-NODEPORT-HOST, last.
    public static let nodePortHost = ParentJump(
        name: "J4", target: .nodePortHost, chain: "OUTPUT", position: .last,
        arguments: [
            "-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", nodePortComment,
            "-j", PortalChain.nodePortHost.rawValue,
        ])
    /// J5: filter INPUT → KUBE-NODEPORT-NON-LOCAL, first.
    public static let nodePortNonLocal = ParentJump(
        name: "J5", target: .nodePortNonLocal, chain: "INPUT", position: .first,
        arguments: [
            "-m", "comment", "--comment", "Ensure that non-local NodePort traffic can flow",
            "-j", PortalChain.nodePortNonLocal.rawValue,
        ])

    /// J1…J5 in upstream's creation order.
    public static let all: [ParentJump] = [portalsContainer, portalsHost, nodePortContainer, nodePortHost, nodePortNonLocal]

    /// Whether `rule` is a copy of this jump in any spelling.
    public func matches(_ rule: IPTablesRule) -> Bool {
        rule.chain == chain && PortalRule(rule) == portalRule
    }
}
