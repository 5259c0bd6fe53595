import Foundation
import KubeProxyTesting
import Testing

/// The real `kube-proxy --proxy-mode nftables` in the kernel-mode lab (network namespaces with
/// no link to the host), with real TCP packets: ClusterIP traffic reaches every endpoint, a
/// Service without endpoints and an unknown port on a ClusterIP are refused at once, NodePort
/// traffic from outside is balanced and masqueraded, and `--cleanup` removes the table (twice
/// is harmless).
@Suite(.serialized)
struct NFTablesModeEndToEndTests {
    static let web = KernelModeManifests.service("web", clusterIP: "172.30.0.41", type: "NodePort", nodePort: 30080)

    static let empty = KernelModeManifests.service("empty", clusterIP: "172.30.0.42")

    /// The `web` EndpointSlice with pods `pods` (1-based), each on its node.
    static func webSlice(_ pods: [Int]) -> String { KernelModeManifests.slice("web", pods: pods, name: "web-ipv4") }

    @Test func clusterIPNodePortRejectsAndCleanup() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables"])
        defer { lab.destroy() }
        try lab.writeManifest("services.yaml", [Self.web, Self.empty, Self.webSlice([1, 2, 3])])
        try await lab.startProxy(mode: "nftables", extra: ["--nodeport-addresses", "\(KernelModeLab.nodeIP)/32"])

        // ClusterIP from a pod: every endpoint answers (three backends, 40 fresh connections).
        let cluster = lab.http(from: lab.pods[1], "172.30.0.41:80", count: 40)
        #expect(Set(cluster.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(cluster) \(lab.proxyTail)")

        // No endpoints, and a ClusterIP's unknown port: refused at once.
        let noEndpoints = lab.http(from: lab.pods[0], "172.30.0.42:80")
        #expect(noEndpoints.isRefused, "\(noEndpoints)")
        let wrongPort = lab.http(from: lab.pods[0], "172.30.0.41:81")
        #expect(wrongPort.isRefused, "\(wrongPort)")

        // NodePort from outside: balanced and masqueraded (Cluster policy).
        let nodePort = lab.http(from: lab.external, "\(KernelModeLab.nodeIP):30080", count: 40)
        #expect(Set(nodePort.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(nodePort)")
        let nodeAddresses: Set<String> = ["10.180.1.1", "10.180.2.1", KernelModeLab.nodeAltIP]
        #expect(!nodePort.answers.isEmpty && nodePort.answers.allSatisfy { nodeAddresses.contains($0.client) }, "\(nodePort)")

        // An endpoint removed from the slice stops receiving new connections.
        try lab.writeManifest("services.yaml", [Self.web, Self.empty, Self.webSlice([1, 3])])
        let moved = lab.eventually {
            Set(lab.http(from: lab.pods[1], "172.30.0.41:80", count: 12).answers.map(\.backend)) == ["p1", "p3"]
        }
        #expect(moved, "\(lab.proxyTail)")

        // --cleanup deletes the table; a second run finds nothing and still succeeds.
        await lab.killProxy()
        for _ in 0..<2 {
            try lab.lab.exec(lab.node, [BuiltProducts.path("kube-proxy"), "--cleanup"])
        }
        let tables = try lab.lab.exec(lab.node, ["nft", "list", "tables"])
        #expect(!tables.contains("kube-proxy"), "\(tables)")
    }

    static let localLB = KernelModeManifests.service(
        "lb", clusterIP: "172.30.0.45", type: "LoadBalancer", nodePort: 30081, externalTrafficPolicy: "Local",
        spec: [#"externalIPs: ["192.168.99.22"]"#, #"loadBalancerSourceRanges: ["203.0.113.0/25"]"#], ingress: ["1.2.3.4"])

    static let localLBSlice = KernelModeManifests.slice("lb", pods: [1, 3], name: "lb-ipv4")

    /// `externalTrafficPolicy: Local` with source ranges: outside clients keep their address and
    /// reach only this node's endpoint, a client outside the range is dropped, pods are
    /// short-circuited to every endpoint.
    @Test func loadBalancerLocalPolicyAndSourceRanges() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables"])
        defer { lab.destroy() }
        let remoteOnly = KernelModeManifests.clusterService(
            "remote", "172.30.0.46", spec: ["externalTrafficPolicy: Local"], nodePort: 30083,
            endpoints: [(3, "{ready: true}")])
        try lab.writeManifest("lb.yaml", [Self.localLB, Self.localLBSlice] + remoteOnly)
        try await lab.startProxy(mode: "nftables", extra: ["--nodeport-addresses", "\(KernelModeLab.nodeIP)/32"])

        let allowed = lab.http(from: lab.external, "1.2.3.4:80", count: 8)
        #expect(allowed.answers == Array(repeating: .init(backend: "p1", client: KernelModeLab.externalClient), count: 8), "\(allowed)")
        // The external namespace reaches the node's own subnet from its link address.
        let nodePort = lab.http(from: lab.external, "\(KernelModeLab.nodeIP):30081", count: 8)
        #expect(nodePort.answers == Array(repeating: .init(backend: "p1", client: "192.168.0.1"), count: 8), "\(nodePort)")
        let externalIP = lab.http(from: lab.external, "192.168.99.22:80", count: 4)
        #expect(
            externalIP.answers == Array(repeating: .init(backend: "p1", client: KernelModeLab.externalClient), count: 4), "\(externalIP)")
        let blocked = lab.http(from: lab.blocked, "1.2.3.4:80")
        #expect(blocked.isTimedOut, "\(blocked)")
        // externalTrafficPolicy Local without a local endpoint: outside traffic is dropped.
        let noLocal = lab.http(from: lab.external, "\(KernelModeLab.nodeIP):30083")
        #expect(noLocal.isTimedOut, "\(noLocal)")
        // Pod traffic to the NodePort is short-circuited to every endpoint, keeping its source.
        let fromPod = lab.http(from: lab.pods[1], "\(KernelModeLab.nodeIP):30081", count: 24)
        #expect(Set(fromPod.answers.map(\.backend)) == ["p1", "p3"], "\(fromPod)")
        #expect(fromPod.answers.allSatisfy { $0.client == KernelModeLab.podIP(2) }, "\(fromPod)")
    }

    static let web6 = KernelModeManifests.service(
        "web6", clusterIP: "fd00:172:30::41", type: "NodePort", nodePort: 30082,
        spec: ["ipFamilies: [IPv6, IPv4]", "ipFamilyPolicy: RequireDualStack", "clusterIPs: [fd00:172:30::41, 172.30.0.61]"])

    static let web6Slice = KernelModeManifests.slice("web6", pods: [1, 2, 3], name: "web6-ipv6", addressType: "IPv6")

    static let web6SliceIPv4 = KernelModeManifests.slice("web6", pods: [1, 2, 3], name: "web6-ipv4")

    /// One dual-stack Service, both families programmed by one process (an `ip` and an `ip6`
    /// table): ClusterIP to every endpoint and NodePort from outside over IPv6, and the same
    /// Service's IPv4 ClusterIP.
    @Test func dualStackServiceOverBothFamilies() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables"])
        defer { lab.destroy() }
        try lab.writeManifest("web6.yaml", [Self.web6, Self.web6Slice, Self.web6SliceIPv4])
        try await lab.startProxy(
            mode: "nftables", extra: ["--nodeport-addresses", "\(KernelModeLab.nodeIPv6)/128,\(KernelModeLab.nodeIP)/32"])

        let cluster = lab.http(from: lab.pods[0], "[fd00:172:30::41]:80", count: 24)
        #expect(Set(cluster.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(cluster) \(lab.proxyTail)")
        let nodePort = lab.http(from: lab.external, "[\(KernelModeLab.nodeIPv6)]:30082", count: 24)
        #expect(Set(nodePort.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(nodePort)")
        let v4 = lab.http(from: lab.pods[0], "172.30.0.61:80", count: 24)
        #expect(Set(v4.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(v4)")
        let tables = try lab.lab.exec(lab.node, ["nft", "list", "tables"])
        #expect(tables.contains("table ip kube-proxy") && tables.contains("table ip6 kube-proxy"), "\(tables)")
    }

    /// A UDP flow (one client socket) sticks to its endpoint through conntrack; when that
    /// endpoint is removed, the cleanup deletes the entry and the same flow moves to the other
    /// endpoint, although the removed backend still runs and would answer.
    @Test func udpFlowMovesOffARemovedEndpoint() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables", "conntrack": "conntrack"])
        defer { lab.destroy() }
        try lab.writeManifest("dns.yaml", [KernelModeManifests.dns, KernelModeManifests.dnsSlice([1, 3])])
        try await lab.startProxy(mode: "nftables")

        let first = lab.udp(from: lab.pods[1], "172.30.0.53:53", count: 3, sourcePort: 40053)
        let backends = first.answers.map(\.backend)
        let chosen = try #require(backends.first, "\(first) \(lab.proxyTail)")
        #expect(backends == [chosen, chosen, chosen], "one flow, one endpoint")
        let (removed, kept) = chosen == "p1" ? (1, 3) : (3, 1)
        try lab.writeManifest("dns.yaml", [KernelModeManifests.dns, KernelModeManifests.dnsSlice([kept])])
        let moved = lab.eventually {
            lab.udp(from: lab.pods[1], "172.30.0.53:53", sourcePort: 40053).answers.map(\.backend) == ["p\(kept)"]
        }
        #expect(moved, "the flow left p\(removed): \(lab.proxyTail)")
    }

    /// The rules outlive the process: after SIGKILL connections keep working, and while a new
    /// process starts from the existing table (adopting it, not rebuilding it) none fails.
    @Test func sigkillAndRestartWithoutAFailedConnection() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables"])
        defer { lab.destroy() }
        try lab.writeManifest("services.yaml", [Self.web, Self.webSlice([1, 2, 3])])
        let extra = ["--nodeport-addresses", "\(KernelModeLab.nodeIP)/32"]
        try await lab.startProxy(mode: "nftables", extra: extra)
        #expect(lab.http(from: lab.pods[1], "172.30.0.41:80", count: 6).answers.count == 6)

        await lab.killProxy()
        let whileDown = lab.http(from: lab.pods[1], "172.30.0.41:80", count: 6)
        #expect(whileDown.answers.count == 6, "\(whileDown)")

        let restarted = try lab.lab.start(lab.node, BuiltProducts.path("kube-proxy"), lab.proxyArguments(mode: "nftables", extra: extra))
        var failed: [String] = []
        for _ in 0..<10 {
            let outcome = lab.http(from: lab.pods[1], "172.30.0.41:80", count: 3)
            if outcome.answers.count != 3 { failed.append("\(outcome)") }
        }
        let synced = await restarted.waitForLine(timeout: .seconds(10), where: { $0.contains("first sync complete") })
        #expect(synced != nil, "\(restarted.output.suffix(10))")
        for _ in 0..<5 {
            let outcome = lab.http(from: lab.pods[1], "172.30.0.41:80", count: 3)
            if outcome.answers.count != 3 { failed.append("\(outcome)") }
        }
        #expect(failed.isEmpty, "\(failed)")
    }

    /// internalTrafficPolicy Local, ClientIP affinity, hairpin and the terminating fallback, on
    /// real packets.
    @Test func trafficPolicyAffinityHairpinAndTerminatingFallback() async throws {
        let lab = try await KernelModeLab.make(needing: ["nft": "nftables"])
        defer { lab.destroy() }
        let ready = "{ready: true}"
        let documents =
            KernelModeManifests.clusterService(
                "itp", "172.30.0.47", spec: ["internalTrafficPolicy: Local"], endpoints: [(1, ready), (3, ready)])
            + KernelModeManifests.clusterService(
                "sticky", "172.30.0.48", spec: ["sessionAffinity: ClientIP", "sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}"],
                endpoints: [(1, ready), (2, ready), (3, ready)])
            + KernelModeManifests.clusterService("solo", "172.30.0.49", endpoints: [(1, ready)])
            + KernelModeManifests.clusterService(
                "draining", "172.30.0.50",
                endpoints: [
                    (1, "{ready: false, serving: true, terminating: true}"), (3, "{ready: false, serving: false, terminating: true}"),
                ])
        try lab.writeManifest("policies.yaml", documents)
        try await lab.startProxy(mode: "nftables")

        // internalTrafficPolicy Local: only the endpoint on this node.
        let local = lab.http(from: lab.pods[1], "172.30.0.47:80", count: 12)
        #expect(Set(local.answers.map(\.backend)) == ["p1"], "\(local) \(lab.proxyTail)")
        // ClientIP affinity: one client, one backend.
        let sticky = lab.http(from: lab.pods[1], "172.30.0.48:80", count: 12)
        #expect(sticky.answers.count == 12 && Set(sticky.answers.map(\.backend)).count == 1, "\(sticky)")
        // Hairpin: a pod reaching itself through its Service is masqueraded (else its reply would
        // bypass the DNAT).
        let hairpin = lab.http(from: lab.pods[0], "172.30.0.49:80", count: 3)
        #expect(
            hairpin.answers.count == 3 && hairpin.answers.allSatisfy { $0.backend == "p1" && $0.client != KernelModeLab.podIP(1) },
            "\(hairpin)")
        // No ready endpoint: the serving, terminating one still serves; the not-serving one never.
        let draining = lab.http(from: lab.pods[1], "172.30.0.50:80", count: 12)
        #expect(Set(draining.answers.map(\.backend)) == ["p1"], "\(draining)")
    }
}
