import Foundation
import KubeProxyTesting
import Testing

/// Proves the kernel-mode lab itself, before any proxy is involved: every namespace reaches
/// every other the way a cluster's would, and a hand-written DNAT in the node namespace (the
/// smallest thing a kernel mode does) behaves as the mode tests will assume: the pod's source
/// is kept, and a masqueraded external flow shows the node's address. Nothing is installed
/// outside the lab's namespaces.
@Suite(.serialized)
struct KernelModeLabTests {
    @Test func topologyRoutesAndNATBehaveAsTheModeTestsAssume() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables"])
        defer { lab.destroy() }

        // Plain routing: pod → remote pod, external → pod, both families, sources intact.
        #expect(lab.http(from: lab.pods[0], "\(KernelModeLab.podIP(3)):8080").answers == [.init(backend: "p3", client: "10.180.1.2")])
        #expect(
            lab.http(from: lab.pods[2], "[\(KernelModeLab.podIPv6(1))]:8080").answers == [
                .init(backend: "p1", client: "fd00:10:3::2")
            ])
        #expect(
            lab.http(from: lab.external, "\(KernelModeLab.podIP(2)):8080").answers == [
                .init(backend: "p2", client: KernelModeLab.externalClient)
            ])
        #expect(
            lab.http(from: lab.blocked, "\(KernelModeLab.podIP(1)):8080").answers == [
                .init(backend: "p1", client: KernelModeLab.blockedClient)
            ])
        #expect(lab.udp(from: lab.pods[1], "\(KernelModeLab.podIP(3)):5353").answers.map(\.backend) == ["p3"])

        // A virtual IP DNATed to a remote pod keeps the pod source; an external flow to an
        // "LB IP" that is masqueraded shows the node's address on the pod link.
        let rules = """
            table ip labcheck {
              chain pre { type nat hook prerouting priority dstnat; policy accept;
                ip daddr 172.30.0.41 tcp dport 80 dnat to 10.180.3.2:8080
                ip daddr 1.2.3.4 tcp dport 80 meta mark set 0x4000 dnat to 10.180.1.2:8080
              }
              chain post { type nat hook postrouting priority srcnat; policy accept;
                meta mark 0x4000 masquerade
              }
            }
            """
        try lab.lab.exec(lab.node, ["nft", "-f", "-"], input: rules)
        #expect(lab.http(from: lab.pods[0], "172.30.0.41:80").answers == [.init(backend: "p3", client: "10.180.1.2")])
        #expect(lab.http(from: lab.external, "1.2.3.4:80").answers == [.init(backend: "p1", client: "10.180.1.1")])
        // Nothing listens on the node for an unknown address: refused at once, not timed out.
        let refused = lab.http(from: lab.pods[0], "\(KernelModeLab.nodeIP):81")
        #expect(refused.isRefused, "\(refused)")
    }
}
