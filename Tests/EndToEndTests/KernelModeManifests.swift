/// Service and EndpointSlice manifests for the kernel-mode lab, shared by the iptables- and
/// nftables-mode end-to-end suites: the pods' addresses and nodes come from `KernelModeLab`.
enum KernelModeManifests {
    /// A Service manifest (TCP port `http` 80 → 8080 unless told otherwise).
    static func service(
        _ name: String, clusterIP: String, type: String = "ClusterIP", nodePort: Int? = nil, externalTrafficPolicy: String? = nil,
        portName: String = "http", port: Int = 80, protocol: String = "TCP", targetPort: Int = 8080
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
          - name: \(portName)
            port: \(port)
            protocol: \(`protocol`)
            targetPort: \(targetPort)
        \(nodePort.map { "    nodePort: \($0)" } ?? "")
        """
    }

    /// An EndpointSlice for `service` with the lab's pods `pods` (1-based), ready, on their nodes.
    static func slice(
        _ service: String, pods: [Int], name: String? = nil, portName: String = "http", port: Int = 8080, protocol: String = "TCP"
    ) -> String {
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
              name: \(name ?? "\(service)-1")
              namespace: default
              labels:
                kubernetes.io/service-name: \(service)
            addressType: IPv4
            endpoints:\(pods.isEmpty ? " []" : "\n" + endpoints)
            ports:
            - name: \(portName)
              port: \(port)
              protocol: \(`protocol`)
            """
    }

    /// The UDP Service `dns` (172.30.0.53:53 → 5353) both suites' conntrack tests use.
    static let dns = service("dns", clusterIP: "172.30.0.53", portName: "dns", port: 53, protocol: "UDP", targetPort: 5353)

    /// The EndpointSlice of `dns` with the lab's pods `pods`.
    static func dnsSlice(_ pods: [Int]) -> String {
        slice("dns", pods: pods, portName: "dns", port: 5353, protocol: "UDP")
    }
}
