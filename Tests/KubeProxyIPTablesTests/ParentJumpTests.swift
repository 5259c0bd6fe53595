import KubeProxyIPTables
import Testing

struct ParentJumpTests {
    @Test func jumpsAreUpstreamsArgumentListsExactly() {
        // Upstream's jumps, verbatim (docs/userspace-behaviour.md#parent-jumps).
        #expect(
            ParentJump.all.map { "\($0.table) \($0.rule.description)" } == [
                #"nat -A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER"#,
                #"nat -A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST"#,
                #"nat -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER"#,
                #"nat -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST"#,
                #"filter -A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL"#,
            ])
        #expect(ParentJump.all.map(\.position) == [.first, .first, .last, .last, .first])
    }

    @Test func matchesCopiesInAnySpellingButOnlyInItsChain() {
        let jump = ParentJump.nodePortContainer
        let reordered = IPTablesRule(
            chain: "PREROUTING",
            arguments: [
                "-m", "comment", "--comment", "handle service NodePorts; NOTE: this must be the last rule in the chain",
                "-m", "addrtype", "--dst-type", "LOCAL", "-j", "KUBE-NODEPORT-CONTAINER",
            ])
        #expect(jump.matches(reordered))
        #expect(!jump.matches(IPTablesRule(chain: "OUTPUT", arguments: reordered.arguments)))
        #expect(!jump.matches(IPTablesRule(chain: "PREROUTING", arguments: ["-j", "KUBE-NODEPORT-CONTAINER"])))
        var otherComment = jump.rule
        otherComment.arguments[7] = "something else"
        #expect(!jump.matches(otherComment))
    }
}
