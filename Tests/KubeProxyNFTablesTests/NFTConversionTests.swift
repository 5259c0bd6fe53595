import KubeAPI
import KubeProxyCore
import KubeProxyNFTables
import Testing

/// spec §1.1 through the whole pure path (API object → service port → rendered elements):
/// lenient leading-zero addresses come out normalised, and `ipMode: Proxy` load-balancer IPs
/// are not programmed (upstream TestBadIPs, TestLoadBalancerIngressRouteTypeProxy).
@Suite struct NFTConversionTests {
    @Test func leadingZerosAreNormalisedAndProxyModeIngressIsSkipped() throws {
        var spec = ServiceSpec(
            ports: [ServicePortSpec(name: "p80", protocol: "TCP", port: 80, nodePort: 3001)], clusterIP: "172.30.0.041",
            type: "LoadBalancer")
        spec.externalIPs = ["192.168.099.011"]
        spec.loadBalancerSourceRanges = ["203.0.113.000/025"]
        let service = Service(
            metadata: ObjectMeta(name: "svc1", namespace: "ns1"), spec: spec,
            status: ServiceStatus(
                loadBalancer: LoadBalancerStatus(ingress: [
                    LoadBalancerIngress(ip: "1.2.3.004"), LoadBalancerIngress(ip: "5.6.7.8", ipMode: "Proxy"),
                ])))
        let port = try #require(ServiceFilter.servicePorts(from: service, family: .ipv4).servicePorts?.first)
        let objects = NFTRenderer(options: Fixture.options()).render(port, endpoints: [Fixture.endpoint("10.180.0.1")])
        let keys = objects.elements.map { "\($0.set) \($0.keyText)" }
        #expect(keys.contains("service-ips 172.30.0.41 . tcp . 80"))
        #expect(keys.contains("service-ips 192.168.99.11 . tcp . 80"))
        #expect(keys.contains("service-ips 1.2.3.4 . tcp . 80"))
        #expect(keys.contains("firewall-ips 1.2.3.4 . tcp . 80"))
        #expect(!keys.contains { $0.contains("5.6.7.8") })
        let firewall = objects.chains.first { $0.name.hasPrefix("firewall-") }
        #expect(firewall?.rules.map(\.body) == ["ip saddr != { 203.0.113.0/25 } drop"])
    }
}
