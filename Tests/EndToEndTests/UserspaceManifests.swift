/// The Services and EndpointSlices the userspace lab writes into the proxy's `--manifests`
/// directory, as YAML text.
///
/// Three Services cover the userspace mode's surface: `web` (ClusterIP, NodePort, two external
/// IPs — one of them the node's own address — and a load-balancer ingress IP), `dns` (UDP) and
/// `sticky` (ClientIP affinity with a 2 s timeout, short enough to watch it expire).
enum UserspaceManifests {
    /// `web`: 10.96.0.10:80/TCP → 8080, nodePort 30080, externalIPs, LB ingress 192.0.2.50.
    static let web = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: default
        spec:
          type: LoadBalancer
          clusterIP: 10.96.0.10
          externalIPs: ["\(UserspaceLab.nodeIP)", "192.0.2.77"]
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: 8080
            nodePort: 30080
        status:
          loadBalancer:
            ingress:
            - ip: 192.0.2.50
        """

    /// `dns`: 10.96.0.53:53/UDP → 5353.
    static let dns = """
        apiVersion: v1
        kind: Service
        metadata:
          name: dns
          namespace: default
        spec:
          clusterIP: 10.96.0.53
          ports:
          - name: dns
            port: 53
            protocol: UDP
            targetPort: 5353
        """

    /// `sticky`: 10.96.0.11:80/TCP → 8080 with ClientIP affinity, timeoutSeconds 2.
    static let sticky = """
        apiVersion: v1
        kind: Service
        metadata:
          name: sticky
          namespace: default
        spec:
          clusterIP: 10.96.0.11
          sessionAffinity: ClientIP
          sessionAffinityConfig:
            clientIP:
              timeoutSeconds: 2
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: 8080
        """

    /// One EndpointSlice for `service` listing backends `backends` (1-based lab indices).
    static func slice(service: String, portName: String, port: Int, protocol proto: String, backends: [Int]) -> String {
        let endpoints = backends.map { index in
            """
            - addresses: ["\(UserspaceLab.backendIP(index))"]
              conditions:
                ready: true
            """
        }.joined(separator: "\n")
        return """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(service)-slice
              namespace: default
              labels:
                kubernetes.io/service-name: \(service)
            addressType: IPv4
            endpoints:
            \(endpoints)
            ports:
            - name: \(portName)
              port: \(port)
              protocol: \(proto)
            """
    }

    /// The `web` slice for `backends`.
    static func webSlice(_ backends: [Int]) -> String {
        slice(service: "web", portName: "http", port: 8080, protocol: "TCP", backends: backends)
    }

    /// The `dns` slice for `backends`.
    static func dnsSlice(_ backends: [Int]) -> String {
        slice(service: "dns", portName: "dns", port: 5353, protocol: "UDP", backends: backends)
    }

    /// The `sticky` slice for `backends`.
    static func stickySlice(_ backends: [Int]) -> String {
        slice(service: "sticky", portName: "http", port: 8080, protocol: "TCP", backends: backends)
    }
}
