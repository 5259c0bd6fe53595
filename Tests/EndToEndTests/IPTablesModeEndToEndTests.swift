import Foundation
import KubeProxyTesting
import Testing

/// The real `kube-proxy --proxy-mode iptables` in the kernel-mode lab (`KernelModeLab`): real
/// `iptables-restore` in the node namespace, real packets from pods and external clients.
/// Nothing is installed outside the lab's namespaces; each test destroys its lab on every path.
@Suite(.serialized)
struct IPTablesModeEndToEndTests {
    static func makeLab() async throws -> KernelModeLab {
        if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
        return try await KernelModeLab()
    }

    /// A Service manifest (TCP port 80 → 8080 unless told otherwise).
    static func service(
        _ name: String, clusterIP: String, type: String = "ClusterIP", nodePort: Int? = nil, externalTrafficPolicy: String? = nil
    ) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: default
        spec:
          type: \(type)
          clusterIP: \(clusterIP)
        \(externalTrafficPolicy.map { "  externalTrafficPolicy: \($0)" } ?? "")
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: 8080
        \(nodePort.map { "    nodePort: \($0)" } ?? "")
        """
    }

    /// An EndpointSlice for `service` with the lab's pods `pods` (1-based), ready, on their nodes.
    static func slice(_ service: String, pods: [Int]) -> String {
        let endpoints = pods.map { index in
            """
            - addresses: ["\(KernelModeLab.podIP(index))"]
              nodeName: \(KernelModeLab.podNode(index))
              conditions:
                ready: true
            """
        }.joined(separator: "\n")
        return """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(service)-1
              namespace: default
              labels:
                kubernetes.io/service-name: \(service)
            addressType: IPv4
            endpoints:\(pods.isEmpty ? " []" : "\n" + endpoints)
            ports:
            - name: http
              port: 8080
              protocol: TCP
            """
    }

    static func backends(_ outcome: KernelModeLab.Outcome) -> Set<String> { Set(outcome.answers.map(\.backend)) }

    @Test func clusterIPNodePortNoEndpointsFlushRecoveryAndCleanup() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        try lab.writeManifest(
            "services.yaml",
            [
                Self.service("web", clusterIP: "172.30.0.41", type: "NodePort", nodePort: 30080), Self.slice("web", pods: [1, 2, 3]),
                Self.service("empty", clusterIP: "172.30.0.46"), Self.slice("empty", pods: []),
                Self.service("local", clusterIP: "172.30.0.47", type: "NodePort", nodePort: 30081, externalTrafficPolicy: "Local"),
                Self.slice("local", pods: [3]),
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
        let nodePort = lab.http(from: lab.external, "\(KernelModeLab.nodeIP):30080", count: 20)
        #expect(!nodePort.answers.isEmpty, "\(nodePort)")
        #expect(nodePort.answers.allSatisfy { $0.client != KernelModeLab.externalClient }, "\(nodePort)")
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
}
