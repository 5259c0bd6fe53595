import Foundation
import KubeProxyTesting
import Testing

/// The real `kube-proxy --proxy-mode iptables` in the kernel-mode lab (`KernelModeLab`): real
/// `iptables-restore` in the node namespace, real packets from pods and external clients.
/// Nothing is installed outside the lab's namespaces; each test destroys its lab on every path.
@Suite(.serialized)
struct IPTablesModeEndToEndTests {
    static func makeLab() async throws -> KernelModeLab {
        try await KernelModeLab.make(needing: ["iptables-restore": "iptables"])
    }

    static func backends(_ outcome: KernelModeLab.Outcome) -> Set<String> { Set(outcome.answers.map(\.backend)) }

    static let localhostCounter = "kubeproxy_iptables_localhost_nodeports_accepted_packets_total"
    static let invalidCounter = "kubeproxy_iptables_ct_state_invalid_dropped_packets_total"

    /// The nfacct counters' values from the proxy's `/metrics` (served on the node's loopback).
    static func scrape(_ lab: KernelModeLab) throws -> [String: Int] {
        let body = try lab.lab.exec(
            lab.node, [BuiltProducts.path("kp-probe"), "http", "127.0.0.1:10249", "--close", "--path", "/metrics"])
        var values: [String: Int] = [:]
        for line in body.split(separator: "\n") where line.hasPrefix("kubeproxy_iptables_") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Int(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    @Test func clusterIPNodePortNoEndpointsFlushRecoveryAndCleanup() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        try lab.writeManifest(
            "services.yaml",
            [
                KernelModeManifests.service("web", clusterIP: "172.30.0.41", type: "NodePort", nodePort: 30080),
                KernelModeManifests.slice("web", pods: [1, 2, 3]),
                KernelModeManifests.service("empty", clusterIP: "172.30.0.46"), KernelModeManifests.slice("empty", pods: []),
                KernelModeManifests.service(
                    "local", clusterIP: "172.30.0.47", type: "NodePort", nodePort: 30081, externalTrafficPolicy: "Local"),
                KernelModeManifests.slice("local", pods: [3]),
            ])
        try await lab.startProxy(mode: "iptables", extra: ["--iptables-sync-period", "2s"])

        // ClusterIP from a pod: every endpoint, on both nodes, is reached.
        let fromPod = lab.http(from: lab.pods[1], "172.30.0.41:80", count: 40)
        #expect(
            Self.backends(fromPod) == ["p1", "p2", "p3"],
            "\(fromPod) \(lab.proxyTail) \((try? lab.lab.exec(lab.node, ["iptables-save"])) ?? "")")
        // A pod's source is kept towards another pod (no masquerade for local pod traffic).
        #expect(fromPod.answers.filter { $0.backend == "p3" }.allSatisfy { $0.client == KernelModeLab.podIP(2) })
        // No endpoints: refused at once (filter REJECT), not timed out.
        let empty = lab.http(from: lab.pods[0], "172.30.0.46:80")
        #expect(empty.isRefused, "\(empty)")
        // NodePort from outside, Cluster policy: reaches endpoints, masqueraded.
        try lab.flushConntrack()
        // (The node's second address is reached through the client's default route, so the
        // client's source is 203.0.113.2; masqueraded, pods see one of the node's addresses.)
        let nodePort = lab.http(from: lab.external, "\(KernelModeLab.nodeAltIP):30080", count: 20)
        #expect(!nodePort.answers.isEmpty, "\(nodePort)")
        #expect(nodePort.answers.allSatisfy { ["10.180.1.1", "10.180.2.1", KernelModeLab.nodeAltIP].contains($0.client) }, "\(nodePort)")
        // Local policy with the only endpoint on node-2: external traffic is dropped (times out).
        let local = lab.http(from: lab.external, "\(KernelModeLab.nodeIP):30081")
        #expect(local.isTimedOut, "\(local)")

        // A firewall reload flushes every table: the canary check (every sync period) notices
        // and a full resync restores service.
        for table in ["nat", "filter", "mangle"] {
            try lab.lab.exec(lab.node, ["iptables", "-t", table, "-F"])
            try lab.lab.exec(lab.node, ["iptables", "-t", table, "-X"])
        }
        try lab.flushConntrack()
        let recovered = lab.eventually(timeout: .seconds(10)) {
            Self.backends(lab.http(from: lab.pods[1], "172.30.0.41:80", count: 12)).count == 3
        }
        #expect(recovered, "\(lab.proxyTail)")

        // --cleanup (twice) with the proxy gone removes every chain of ours.
        await lab.killProxy()
        for run in 1...2 {
            do {
                try lab.lab.exec(lab.node, [BuiltProducts.path("kube-proxy"), "--cleanup"])
            } catch {
                Issue.record("kube-proxy --cleanup run \(run) failed: \(error)")
            }
        }
        let saved = try lab.lab.exec(lab.node, ["iptables-save"])
        let leftovers = saved.split(separator: "\n").filter {
            $0.contains("KUBE-") && !$0.contains("KUBE-FIREWALL")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// The external-traffic half of the packet suite, ITP Local, affinity, localhost NodePorts
    /// and a restart: each as upstream's flow tests expect (spec §1.4, §2.5–2.7).
    @Test func policiesSourceRangesLocalhostAffinityAndRestart() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let lb = KernelModeManifests.service(
            "lb", clusterIP: "172.30.0.45", type: "LoadBalancer", nodePort: 30085,
            spec: [#"externalIPs: ["192.168.99.22"]"#, #"loadBalancerSourceRanges: ["203.0.113.0/25"]"#], ingress: ["5.6.7.8"])
        let itp = KernelModeManifests.service("itp", clusterIP: "172.30.0.48", spec: ["internalTrafficPolicy: Local"])
        let sticky = KernelModeManifests.service("sticky", clusterIP: "172.30.0.49", spec: ["sessionAffinity: ClientIP"])
        try lab.writeManifest(
            "services.yaml",
            [
                lb, KernelModeManifests.slice("lb", pods: [1, 2, 3]),
                KernelModeManifests.service(
                    "local", clusterIP: "172.30.0.47", type: "NodePort", nodePort: 30082, externalTrafficPolicy: "Local"),
                KernelModeManifests.slice("local", pods: [1, 3]), itp, KernelModeManifests.slice("itp", pods: [1, 3]), sticky,
                KernelModeManifests.slice("sticky", pods: [1, 2, 3]),
            ])
        // A VIP-style load balancer delivers 5.6.7.8 to the node as a local address: without
        // the source-range DROP a blocked client would be refused by the node at once.
        try lab.lab.exec(lab.node, ["ip", "addr", "add", "5.6.7.8/32", "dev", "lo"])
        try await lab.startProxy(mode: "iptables")

        // LB IP: a client inside the source range gets through (masqueraded, Cluster policy);
        // one outside it is dropped by KUBE-PROXY-FIREWALL; the external IP is not filtered.
        let allowed = lab.http(from: lab.external, "5.6.7.8:80", count: 5)
        #expect(allowed.answers.count == 5, "\(allowed) \(lab.proxyTail)")
        let blocked = lab.http(from: lab.blocked, "5.6.7.8:80")
        #expect(blocked.isTimedOut, "\(blocked)")
        #expect(!lab.http(from: lab.blocked, "192.168.99.22:80").answers.isEmpty)
        // ETP Local with a local endpoint: only it, and the client's address is kept.
        try lab.flushConntrack()
        let local = lab.http(from: lab.external, "\(KernelModeLab.nodeAltIP):30082", count: 10)
        #expect(Set(local.answers) == [.init(backend: "p1", client: KernelModeLab.externalClient)], "\(local)")
        // ITP Local: ClusterIP traffic only to this node's endpoint.
        #expect(Self.backends(lab.http(from: lab.pods[1], "172.30.0.48:80", count: 12)) == ["p1"])
        // ClientIP affinity: one client, one backend.
        let sticky1 = lab.http(from: lab.pods[1], "172.30.0.49:80", count: 10)
        #expect(Self.backends(sticky1).count == 1, "\(sticky1)")
        // Localhost NodePort from the node itself (route_localnet is set in the node's namespace).
        // Each connection's first packet is counted into the nfacct object and the scrape reads it.
        #expect(try Self.scrape(lab)[Self.localhostCounter] == 0, "\(lab.proxyTail)")
        let localhost = lab.http(from: lab.node, "127.0.0.1:30085", count: 3)
        #expect(localhost.answers.count == 3, "\(localhost)")
        let counters = try Self.scrape(lab)
        #expect(counters[Self.localhostCounter] == 3, "\(counters)")
        #expect(counters[Self.invalidCounter] != nil, "\(counters)")
        let nodePorts = try lab.lab.exec(lab.node, ["iptables", "-t", "nat", "-S", "KUBE-NODEPORTS"])
        let counted = #"-d 127.0.0.0/8 -p tcp -m comment --comment "default/lb:http" -m tcp --dport 30085 -m nfacct --nfacct-name"#
        #expect(nodePorts.contains(counted), "\(nodePorts)")

        // Restart: with the proxy killed the rules stay and keep serving; a new proxy replaces
        // them in one restore and serves on.
        await lab.killProxy()
        #expect(Self.backends(lab.http(from: lab.pods[1], "172.30.0.45:80", count: 40)).count == 3)
        try await lab.startProxy(mode: "iptables")
        #expect(Self.backends(lab.http(from: lab.pods[1], "172.30.0.45:80", count: 40)).count == 3)
        // The objects belong to the namespace: the new proxy keeps counting where the old one stopped.
        #expect(try Self.scrape(lab)[Self.localhostCounter] == 3)
        let jumps = try lab.lab.exec(lab.node, ["iptables", "-t", "nat", "-S", "PREROUTING"])
        #expect(jumps.split(separator: "\n").filter { $0.contains("KUBE-SERVICES") }.count == 1, "\(jumps)")
    }

    /// Hairpin (a pod reaching itself through its Service is masqueraded, or its reply would
    /// never come back) and UDP conntrack cleanup (a flow whose endpoint left moves to the new
    /// endpoint at once instead of sticking to the old one until the entry expires).
    @Test func hairpinAndUDPConntrackCleanup() async throws {
        guard NetworkLab.which("conntrack") != nil else { try Test.cancel("conntrack is not installed (package conntrack)") }
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        try lab.writeManifest(
            "web.yaml", [KernelModeManifests.service("web", clusterIP: "172.30.0.41"), KernelModeManifests.slice("web", pods: [1])])
        try lab.writeManifest("dns.yaml", [KernelModeManifests.dns, KernelModeManifests.dnsSlice([3])])
        try await lab.startProxy(mode: "iptables")

        let hairpin = lab.http(from: lab.pods[0], "172.30.0.41:80", count: 3)
        #expect(Set(hairpin.answers) == [.init(backend: "p1", client: "10.180.1.1")], "\(hairpin) \(lab.proxyTail)")

        // One UDP flow (fixed source port) to the Service: answered by p3.
        #expect(lab.udp(from: lab.pods[1], "172.30.0.53:53", count: 2, sourcePort: 40053).answers.map(\.backend) == ["p3", "p3"])
        // p3 leaves the Service (it keeps running, so a stale entry would still get answers).
        try lab.writeManifest("dns.yaml", [KernelModeManifests.dns, KernelModeManifests.dnsSlice([1])])
        let moved = lab.eventually(timeout: .seconds(5)) {
            lab.udp(from: lab.pods[1], "172.30.0.53:53", sourcePort: 40053).answers.map(\.backend) == ["p1"]
        }
        #expect(moved, "\(lab.proxyTail)")
    }

    /// One dual-stack Service programmed by one process through `iptables-restore` and
    /// `ip6tables-restore`: ClusterIP to every endpoint and NodePort from outside over IPv6,
    /// and the same Service's IPv4 ClusterIP (the manifests are the nftables suite's).
    @Test func dualStackServiceOverBothFamilies() async throws {
        let lab = try await KernelModeLab.make(needing: ["iptables-restore": "iptables", "ip6tables-restore": "iptables"])
        defer { lab.destroy() }
        try lab.writeManifest(
            "web6.yaml",
            [NFTablesModeEndToEndTests.web6, NFTablesModeEndToEndTests.web6Slice, NFTablesModeEndToEndTests.web6SliceIPv4])
        try await lab.startProxy(
            mode: "iptables", extra: ["--nodeport-addresses", "\(KernelModeLab.nodeIPv6)/128,\(KernelModeLab.nodeIP)/32"])

        let cluster = lab.http(from: lab.pods[0], "[fd00:172:30::41]:80", count: 40)
        #expect(
            Self.backends(cluster) == ["p1", "p2", "p3"],
            "\(cluster) \(lab.proxyTail) \((try? lab.lab.exec(lab.node, ["ip6tables-save"])) ?? "")")
        let nodePort = lab.http(from: lab.external, "[\(KernelModeLab.nodeIPv6)]:30082", count: 40)
        #expect(Self.backends(nodePort) == ["p1", "p2", "p3"], "\(nodePort)")
        let v4 = lab.http(from: lab.pods[0], "172.30.0.61:80", count: 40)
        #expect(Self.backends(v4) == ["p1", "p2", "p3"], "\(v4)")
        // Each family's rules are in its own tool's tables, with the family's NodePort guard.
        let saved6 = try lab.lab.exec(lab.node, ["ip6tables-save", "-t", "nat"])
        #expect(saved6.contains("-d fd00:172:30::41/128") && saved6.contains("-j KUBE-NODEPORTS"), "\(saved6)")
        let saved4 = try lab.lab.exec(lab.node, ["iptables-save", "-t", "nat"])
        #expect(saved4.contains("-d 172.30.0.61/32") && !saved4.contains("fd00:"), "\(saved4)")
    }

    /// The terminating fallback (spec §1.3) on real packets: with no ready endpoint left, the
    /// serving terminating one keeps answering and the not-serving one never does; once a
    /// ready endpoint appears, only it answers (a partial sync rewrites the Service's chains).
    @Test func terminatingEndpointsServeOnlyWithoutReadyOnes() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let serving = "{ready: false, serving: true, terminating: true}"
        let gone = "{ready: false, serving: false, terminating: true}"
        try lab.writeManifest(
            "draining.yaml", KernelModeManifests.clusterService("draining", "172.30.0.50", endpoints: [(1, serving), (3, gone)]))
        try await lab.startProxy(mode: "iptables")

        let draining = lab.http(from: lab.pods[1], "172.30.0.50:80", count: 12)
        #expect(Self.backends(draining) == ["p1"], "\(draining) \(lab.proxyTail)")
        try lab.writeManifest(
            "draining.yaml",
            KernelModeManifests.clusterService("draining", "172.30.0.50", endpoints: [(1, serving), (3, gone), (2, "{ready: true}")]))
        let switched = lab.eventually(timeout: .seconds(5)) {
            Self.backends(lab.http(from: lab.pods[1], "172.30.0.50:80", count: 12)) == ["p2"]
        }
        #expect(switched, "\(lab.proxyTail)")
    }
}
