import KubeAPI
import KubeProxyCore
import Testing

@Suite("ServiceFilter")
struct ServiceFilterTests {
    struct SkipCase: Sendable, CustomTestStringConvertible {
        var name: String
        var service: Service
        var family: IPFamily = .ipv4
        var reason: ServiceConversion.SkipReason
        var testDescription: String { name }
    }

    static let skipCases: [SkipCase] = [
        SkipCase(name: "empty cluster IP", service: TestObjects.service(clusterIP: ""), reason: .noClusterIP),
        SkipCase(name: "absent cluster IP", service: TestObjects.service(clusterIP: nil), reason: .noClusterIP),
        SkipCase(name: "headless", service: TestObjects.service(clusterIP: "None"), reason: .headless),
        SkipCase(
            name: "ExternalName even with a cluster IP", service: TestObjects.service(type: "ExternalName"),
            reason: .externalName),
        SkipCase(
            name: "owned by another proxy",
            service: TestObjects.service(labels: [WellKnownLabels.serviceProxyName: "other"]),
            reason: .excludedByLabel(WellKnownLabels.serviceProxyName)),
        SkipCase(
            name: "labelled headless", service: TestObjects.service(labels: [WellKnownLabels.headless: ""]),
            reason: .excludedByLabel(WellKnownLabels.headless)),
        SkipCase(
            name: "single-stack IPv4 on an IPv6 proxier", service: TestObjects.service(), family: .ipv6,
            reason: .noClusterIPOfFamily(.ipv6)),
        SkipCase(
            name: "a headless Service with invalid ports is skipped, not refused",
            service: TestObjects.service(clusterIP: "None", ports: [ServicePortSpec(port: 0)]), reason: .headless),
    ]

    @Test(arguments: skipCases)
    func skips(_ testCase: SkipCase) {
        #expect(ServiceFilter.servicePorts(from: testCase.service, family: testCase.family) == .skipped(testCase.reason))
    }

    @Test func refusesAnInvalidService() {
        let service = TestObjects.service(ports: [ServicePortSpec(name: "p", protocol: "HTTP", port: 0)])
        guard case .invalid(let causes) = ServiceFilter.servicePorts(from: service, family: .ipv4) else {
            Issue.record("expected .invalid")
            return
        }
        #expect(causes.map(\.field) == ["spec.ports[0].protocol", "spec.ports[0].port"])
    }

    /// A LoadBalancer Service with every field the proxy reads, dual-stack.
    static let loadBalancer = TestObjects.service(
        "lb", clusterIP: "172.30.0.041", clusterIPs: ["172.30.0.041", "fd00:10:96::1"], type: "LoadBalancer",
        ports: [
            ServicePortSpec(name: "http", port: 80, targetPort: .int(8080), nodePort: 30080),
            ServicePortSpec(name: "dns", protocol: "UDP", port: 53, nodePort: 30053),
        ],
        configure: {
            $0.externalIPs = ["192.0.2.10", "2001:db8::10"]
            $0.loadBalancerSourceRanges = [" 203.0.113.0/25", "2001:db8:1::/48"]
            $0.sessionAffinity = "ClientIP"
            $0.externalTrafficPolicy = "Local"
            $0.internalTrafficPolicy = "Local"
            $0.healthCheckNodePort = 30000
        },
        status: ServiceStatus(
            loadBalancer: LoadBalancerStatus(ingress: [
                LoadBalancerIngress(ip: "198.51.100.1"),
                LoadBalancerIngress(ip: "198.51.100.2", ipMode: "VIP"),
                LoadBalancerIngress(ip: "198.51.100.3", ipMode: "Proxy"),
                LoadBalancerIngress(hostname: "lb.example.com"),
                LoadBalancerIngress(ip: "2001:db8::99"),
            ])))

    @Test func convertsEveryFieldForIPv4() {
        let name = ServicePortName(namespace: "ns1", name: "lb", port: "http", protocol: .tcp)
        let expected = ServicePort(
            name: name, clusterIP: TestObjects.ip("172.30.0.41"), port: 80, nodePort: 30080,
            externalIPs: [TestObjects.ip("192.0.2.10")],
            loadBalancerIPs: [TestObjects.ip("198.51.100.1"), TestObjects.ip("198.51.100.2")],
            loadBalancerSourceRanges: [CIDR("203.0.113.0/25")].compactMap { $0 },
            sessionAffinity: .clientIP(timeoutSeconds: 10800),
            externalTrafficPolicy: .local, internalTrafficPolicy: .local, healthCheckNodePort: 30000)
        let ports = ServiceFilter.servicePorts(from: Self.loadBalancer, family: .ipv4).servicePorts
        #expect(ports?.first == expected)
        #expect(ports?.last?.name == ServicePortName(namespace: "ns1", name: "lb", port: "dns", protocol: .udp))
        #expect(ports?.last?.port == 53)
        #expect(ports?.count == 2)
    }

    @Test func convertsOnlyTheIPv6AddressesForIPv6() throws {
        let ports = try #require(ServiceFilter.servicePorts(from: Self.loadBalancer, family: .ipv6).servicePorts)
        let port = try #require(ports.first)
        #expect(port.clusterIP == TestObjects.ip("fd00:10:96::1"))
        #expect(port.externalIPs == [TestObjects.ip("2001:db8::10")])
        #expect(port.loadBalancerIPs == [TestObjects.ip("2001:db8::99")])
        #expect(port.loadBalancerSourceRanges.map(\.description) == ["2001:db8:1::/48"])
    }

    @Test func defaultsProtocolNameNamespaceAndPolicies() {
        let service = TestObjects.service(namespace: nil, ports: [ServicePortSpec(port: 80)])
        let expected = ServicePort(
            name: ServicePortName(namespace: "default", name: "svc1", port: "", protocol: .tcp),
            clusterIP: TestObjects.ip("172.30.0.41"), port: 80)
        #expect(ServiceFilter.servicePorts(from: service, family: .ipv4) == .ports([expected]))
    }

    @Test(arguments: [(nil, 10800), (5, 5), (86400, 86400)] as [(Int?, Int)])
    func clientIPAffinityTimeout(configured: Int?, expected: Int) {
        let service = TestObjects.service(configure: {
            $0.sessionAffinity = "ClientIP"
            $0.sessionAffinityConfig = SessionAffinityConfig(clientIP: ClientIPConfig(timeoutSeconds: configured))
        })
        let port = ServiceFilter.servicePorts(from: service, family: .ipv4).servicePorts?.first
        #expect(port?.sessionAffinity == .clientIP(timeoutSeconds: expected))
    }

    struct PolicyCase: Sendable, CustomTestStringConvertible {
        var name: String
        var type: String?
        var nodePort: Int?
        var externalIPs: [String]?
        var effectivePolicy: TrafficPolicy
        var healthCheckNodePort: Int
        var testDescription: String { name }
    }

    @Test(arguments: [
        PolicyCase(name: "ClusterIP: Local has no effect", effectivePolicy: .cluster, healthCheckNodePort: 0),
        PolicyCase(
            name: "ClusterIP with external IPs: Local applies", externalIPs: ["192.0.2.1"], effectivePolicy: .local,
            healthCheckNodePort: 0),
        PolicyCase(
            name: "NodePort: Local applies, no health check", type: "NodePort", nodePort: 30080,
            effectivePolicy: .local, healthCheckNodePort: 0),
        PolicyCase(
            name: "LoadBalancer: Local applies with health check", type: "LoadBalancer", nodePort: 30080,
            effectivePolicy: .local, healthCheckNodePort: 32000),
    ])
    func externalTrafficPolicyIsEffective(_ testCase: PolicyCase) {
        let service = TestObjects.service(
            type: testCase.type, ports: [ServicePortSpec(name: "p", port: 80, nodePort: testCase.nodePort)],
            configure: {
                $0.externalTrafficPolicy = "Local"
                $0.externalIPs = testCase.externalIPs
                $0.healthCheckNodePort = 32000
            })
        let port = ServiceFilter.servicePorts(from: service, family: .ipv4).servicePorts?.first
        #expect(port?.externalTrafficPolicy == testCase.effectivePolicy)
        #expect(port?.healthCheckNodePort == testCase.healthCheckNodePort)
    }
}
