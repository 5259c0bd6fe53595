/// Service and EndpointSlice manifests for the kernel-mode lab, shared by the iptables- and
/// nftables-mode end-to-end suites: the pods' addresses and nodes come from `KernelModeLab`.
enum KernelModeManifests {
    /// A Service manifest (TCP port `http` 80 → 8080 unless told otherwise). `spec` holds extra
    /// lines of the spec (e.g. `externalIPs: [...]`, `clusterIPs: [...]`), `ingress` the
    /// LoadBalancer status addresses.
    static func service(
        _ name: String, clusterIP: String, type: String = "ClusterIP", nodePort: Int? = nil, externalTrafficPolicy: String? = nil,
        spec: [String] = [], ingress: [String] = [],
        portName: String = "http", port: Int = 80, protocol: String = "TCP", targetPort: Int = 8080
    ) -> String {
        var lines = [
            "apiVersion: v1", "kind: Service", "metadata:", "  name: \(name)", "  namespace: default", "spec:",
            "  type: \(type)", "  clusterIP: \(clusterIP)",
        ]
        if let externalTrafficPolicy { lines.append("  externalTrafficPolicy: \(externalTrafficPolicy)") }
        lines += spec.map { "  " + $0 }
        lines += [
            "  ports:", "  - name: \(portName)", "    port: \(port)", "    protocol: \(`protocol`)", "    targetPort: \(targetPort)",
        ]
        if let nodePort { lines.append("    nodePort: \(nodePort)") }
        if !ingress.isEmpty {
            lines += ["status:", "  loadBalancer:", "    ingress:"] + ingress.map { "    - ip: \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    /// An EndpointSlice for `service` with the lab's pods `pods` (1-based), ready, on their nodes.
    static func slice(
        _ service: String, pods: [Int], name: String? = nil, addressType: String = "IPv4", portName: String = "http",
        port: Int = 8080, protocol: String = "TCP"
    ) -> String {
        slice(
            service, endpoints: pods.map { ($0, "{ready: true}") }, name: name, addressType: addressType, portName: portName,
            port: port, protocol: `protocol`)
    }

    /// An EndpointSlice for `service` whose endpoints are the lab's pods with the given
    /// `conditions` (a flow mapping such as `{ready: false, serving: true, terminating: true}`).
    static func slice(
        _ service: String, endpoints: [(pod: Int, conditions: String)], name: String? = nil, addressType: String = "IPv4",
        portName: String = "http", port: Int = 8080, protocol: String = "TCP"
    ) -> String {
        let items = endpoints.map { pod, conditions in
            let address = addressType == "IPv6" ? KernelModeLab.podIPv6(pod) : KernelModeLab.podIP(pod)
            return "- addresses: [\"\(address)\"]\n  nodeName: \(KernelModeLab.podNode(pod))\n  conditions: \(conditions)"
        }
        return """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(name ?? "\(service)-1")
              namespace: default
              labels:
                kubernetes.io/service-name: \(service)
            addressType: \(addressType)
            endpoints:\(items.isEmpty ? " []" : "\n" + items.joined(separator: "\n"))
            ports:
            - name: \(portName)
              port: \(port)
              protocol: \(`protocol`)
            """
    }

    /// A ClusterIP Service `name` on `ip`:80 → 8080 with extra `spec` lines, and its slice with
    /// `endpoints` (pod index and conditions).
    static func clusterService(
        _ name: String, _ ip: String, spec: [String] = [], nodePort: Int? = nil, endpoints: [(pod: Int, conditions: String)]
    ) -> [String] {
        [
            service(name, clusterIP: ip, type: nodePort == nil ? "ClusterIP" : "NodePort", nodePort: nodePort, spec: spec),
            slice(name, endpoints: endpoints, name: "\(name)-ipv4"),
        ]
    }

    /// The UDP Service `dns` (172.30.0.53:53 → 5353) both suites' conntrack tests use.
    static let dns = service("dns", clusterIP: "172.30.0.53", portName: "dns", port: 53, protocol: "UDP", targetPort: 5353)

    /// The EndpointSlice of `dns` with the lab's pods `pods`.
    static func dnsSlice(_ pods: [Int]) -> String {
        slice("dns", pods: pods, portName: "dns", port: 5353, protocol: "UDP")
    }
}
