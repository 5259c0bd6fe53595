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
    static let web = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: default
        spec:
          type: NodePort
          clusterIP: 172.30.0.41
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: 8080
            nodePort: 30080
        """

    static let empty = """
        apiVersion: v1
        kind: Service
        metadata:
          name: empty
          namespace: default
        spec:
          clusterIP: 172.30.0.42
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: 8080
        """

    /// The `web` EndpointSlice with pods `pods` (1-based), each on its node.
    static func webSlice(_ pods: [Int]) -> String {
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
              name: web-ipv4
              namespace: default
              labels:
                kubernetes.io/service-name: web
            addressType: IPv4
            endpoints:
            \(endpoints)
            ports:
            - name: http
              port: 8080
              protocol: TCP
            """
    }

    @Test func clusterIPNodePortRejectsAndCleanup() async throws {
        if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
        guard NetworkLab.which("nft") != nil else { try Test.cancel("nft is not installed (package nftables)") }
        let lab = try await KernelModeLab()
        defer { lab.destroy() }
        try lab.writeManifest("services.yaml", [Self.web, Self.empty, Self.webSlice([1, 2, 3])])
        try await lab.startProxy(mode: "nftables", extra: ["--nodeport-addresses", "\(KernelModeLab.nodeIP)/32"])

        // ClusterIP from a pod: every endpoint answers (three backends, 24 fresh connections).
        let cluster = lab.http(from: lab.pods[1], "172.30.0.41:80", count: 24)
        #expect(Set(cluster.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(cluster) \(lab.proxyTail)")

        // No endpoints, and a ClusterIP's unknown port: refused at once.
        let noEndpoints = lab.http(from: lab.pods[0], "172.30.0.42:80")
        #expect(noEndpoints.isRefused, "\(noEndpoints)")
        let wrongPort = lab.http(from: lab.pods[0], "172.30.0.41:81")
        #expect(wrongPort.isRefused, "\(wrongPort)")

        // NodePort from outside: balanced and masqueraded (Cluster policy).
        let nodePort = lab.http(from: lab.external, "\(KernelModeLab.nodeIP):30080", count: 24)
        #expect(Set(nodePort.answers.map(\.backend)) == ["p1", "p2", "p3"], "\(nodePort)")
        #expect(!nodePort.answers.isEmpty && nodePort.answers.allSatisfy { $0.client != KernelModeLab.externalClient }, "\(nodePort)")

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
}
