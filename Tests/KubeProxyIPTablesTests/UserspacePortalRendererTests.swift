import KubeProxyCore
import KubeProxyIPTables
import Testing

/// Golden tests: rendered rules against the argument lists of docs/userspace-behaviour.md#portal-rules, written
/// out by hand, plus structural checks.
struct UserspacePortalRendererTests {
    static let web = servicePort("web", clusterIP: "10.96.0.10", port: 80)

    @Test func clusterIPWithWildcardListenAddressRedirectsContainersAndDNATsHost() {
        let set = wildcardRenderer.render([PortalServicePort(servicePort: Self.web, proxyPort: 40000)])
        #expect(
            lines(set, .portalsContainer) == [
                #"-A KUBE-PORTALS-CONTAINER -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.10/32 -j REDIRECT --to-ports 40000"#
            ])
        #expect(
            lines(set, .portalsHost) == [
                #"-A KUBE-PORTALS-HOST -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.10/32 -j DNAT --to-destination 192.168.1.5:40000"#
            ])
        #expect(lines(set, .nodePortContainer).isEmpty && lines(set, .nodePortHost).isEmpty && lines(set, .nodePortNonLocal).isEmpty)
    }

    @Test func specificListenAddressDNATsBothDirectionsToIt() {
        let renderer = UserspacePortalRenderer(listenIP: ip("10.0.0.7"), hostIP: ip("192.168.1.5"), family: .ipv4)
        let set = renderer.render([PortalServicePort(servicePort: Self.web, proxyPort: 40000)])
        #expect(
            lines(set, .portalsContainer) == [
                #"-A KUBE-PORTALS-CONTAINER -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.10/32 -j DNAT --to-destination 10.0.0.7:40000"#
            ])
        #expect(
            lines(set, .portalsHost) == [
                #"-A KUBE-PORTALS-HOST -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.10/32 -j DNAT --to-destination 10.0.0.7:40000"#
            ])
    }

    @Test func externalIPGetsTheThreeRuleForm() {
        let sp = servicePort("web", clusterIP: "10.96.0.10", port: 80, externalIPs: ["203.0.113.9"])
        let set = wildcardRenderer.render([PortalServicePort(servicePort: sp, proxyPort: 40000)])
        #expect(
            Array(lines(set, .portalsContainer).dropFirst()) == [
                #"-A KUBE-PORTALS-CONTAINER -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 203.0.113.9/32 -m physdev ! --physdev-is-in -j REDIRECT --to-ports 40000"#,
                #"-A KUBE-PORTALS-CONTAINER -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 203.0.113.9/32 -m addrtype --dst-type LOCAL -j REDIRECT --to-ports 40000"#,
            ])
        #expect(
            Array(lines(set, .portalsHost).dropFirst()) == [
                #"-A KUBE-PORTALS-HOST -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 203.0.113.9/32 -m addrtype --dst-type LOCAL -j DNAT --to-destination 192.168.1.5:40000"#
            ])
    }

    @Test func loadBalancerIPIsTreatedLikeAClusterIP() {
        let sp = servicePort("web", clusterIP: "10.96.0.10", port: 80, loadBalancerIPs: ["198.51.100.4"])
        let set = wildcardRenderer.render([PortalServicePort(servicePort: sp, proxyPort: 40000)])
        #expect(
            lines(set, .portalsContainer).last
                == #"-A KUBE-PORTALS-CONTAINER -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 198.51.100.4/32 -j REDIRECT --to-ports 40000"#
        )
        #expect(
            lines(set, .portalsHost).last
                == #"-A KUBE-PORTALS-HOST -m comment --comment "ns/web:http" -p tcp -m tcp --dport 80 -d 198.51.100.4/32 -j DNAT --to-destination 192.168.1.5:40000"#
        )
    }

    @Test func nodePortRulesIncludeTheFilterRuleOnTheProxyPort() {
        let sp = servicePort("dns", portName: "dns", protocol: .udp, clusterIP: "10.96.0.53", port: 53, nodePort: 30053)
        let set = wildcardRenderer.render([PortalServicePort(servicePort: sp, proxyPort: 41000)])
        #expect(
            lines(set, .nodePortContainer) == [
                #"-A KUBE-NODEPORT-CONTAINER -m comment --comment "ns/dns:dns" -p udp -m udp --dport 30053 -j REDIRECT --to-ports 41000"#
            ])
        #expect(
            lines(set, .nodePortHost) == [
                #"-A KUBE-NODEPORT-HOST -m comment --comment "ns/dns:dns" -p udp -m udp --dport 30053 -j DNAT --to-destination 192.168.1.5:41000"#
            ])
        #expect(
            lines(set, .nodePortNonLocal) == [
                #"-A KUBE-NODEPORT-NON-LOCAL -m comment --comment "ns/dns:dns" -p udp -m udp --dport 41000 -m state --state NEW -j ACCEPT"#
            ])
        #expect(set.table(named: "filter")?.chains.map(\.name) == ["KUBE-NODEPORT-NON-LOCAL"])
    }

    @Test func ipv6UsesHostPrefix128AndBracketedDNAT() {
        let renderer = UserspacePortalRenderer(listenIP: ip("::"), hostIP: ip("fd00::2"), family: .ipv6)
        let sp = servicePort("web", portName: "", clusterIP: "fd00:96::a", port: 80, nodePort: 30080)
        let set = renderer.render([PortalServicePort(servicePort: sp, proxyPort: 40000)])
        #expect(
            lines(set, .portalsContainer) == [
                #"-A KUBE-PORTALS-CONTAINER -m comment --comment "ns/web" -p tcp -m tcp --dport 80 -d fd00:96::a/128 -j REDIRECT --to-ports 40000"#
            ])
        #expect(
            lines(set, .portalsHost) == [
                #"-A KUBE-PORTALS-HOST -m comment --comment "ns/web" -p tcp -m tcp --dport 80 -d fd00:96::a/128 -j DNAT --to-destination [fd00::2]:40000"#
            ])
        #expect(
            lines(set, .nodePortHost) == [
                #"-A KUBE-NODEPORT-HOST -m comment --comment "ns/web" -p tcp -m tcp --dport 30080 -j DNAT --to-destination [fd00::2]:40000"#
            ])
        let specific = UserspacePortalRenderer(listenIP: ip("fd00::7"), hostIP: ip("fd00::2"), family: .ipv6)
        #expect(specific.containerTarget(proxyPort: 1) == .dnat(address: ip("fd00::7"), port: 1))
    }

    @Test func oneServicePortRendersInUpstreamOrder() {
        let sp = servicePort(
            "web", clusterIP: "10.96.0.10", port: 80, nodePort: 30080, externalIPs: ["203.0.113.9", "203.0.113.8"],
            loadBalancerIPs: ["198.51.100.4"])
        let rules = wildcardRenderer.portalRules(for: PortalServicePort(servicePort: sp, proxyPort: 40000))
        let summary = rules.map { "\($0.chain) \($0.destination.map(\.description) ?? "-") \($0.destinationPort ?? 0)" }
        #expect(
            summary == [
                "KUBE-PORTALS-CONTAINER 10.96.0.10 80", "KUBE-PORTALS-HOST 10.96.0.10 80",
                "KUBE-PORTALS-CONTAINER 203.0.113.9 80", "KUBE-PORTALS-CONTAINER 203.0.113.9 80", "KUBE-PORTALS-HOST 203.0.113.9 80",
                "KUBE-PORTALS-CONTAINER 203.0.113.8 80", "KUBE-PORTALS-CONTAINER 203.0.113.8 80", "KUBE-PORTALS-HOST 203.0.113.8 80",
                "KUBE-PORTALS-CONTAINER 198.51.100.4 80", "KUBE-PORTALS-HOST 198.51.100.4 80",
                "KUBE-NODEPORT-CONTAINER - 30080", "KUBE-NODEPORT-HOST - 30080", "KUBE-NODEPORT-NON-LOCAL - 40000",
            ])
    }

    @Test func outputIsSortedByServicePortNameWhateverTheInputOrder() {
        let a = PortalServicePort(servicePort: servicePort("a", clusterIP: "10.0.0.2", port: 80), proxyPort: 1001)
        let b = PortalServicePort(servicePort: servicePort("b", clusterIP: "10.0.0.1", port: 80), proxyPort: 1002)
        let c = PortalServicePort(servicePort: servicePort("a", portName: "z", clusterIP: "10.0.0.2", port: 81), proxyPort: 1003)
        let forward = wildcardRenderer.render([a, c, b])
        #expect(wildcardRenderer.render([b, c, a]) == forward)
        #expect(PortalState(forward).rules(in: .portalsContainer).compactMap(\.comment) == ["ns/a:http", "ns/a:z", "ns/b:http"])
    }

    @Test func portsWithoutProxyOrNodePortAndForeignFamilyAddressesRenderNothingForThem() {
        let noProxy = PortalServicePort(servicePort: Self.web, proxyPort: 0)
        #expect(wildcardRenderer.render([noProxy]) == wildcardRenderer.skeleton())
        let mixed = servicePort("web", clusterIP: "10.96.0.10", port: 80, externalIPs: ["fd00::9"], loadBalancerIPs: ["fd00::8"])
        let set = wildcardRenderer.render([PortalServicePort(servicePort: mixed, proxyPort: 40000)])
        #expect(PortalState(set).rules(in: .portalsContainer).map(\.destination) == [ip("10.96.0.10")])
    }

    @Test func skeletonIsTheFiveEmptyChains() {
        let skeleton = wildcardRenderer.skeleton()
        #expect(skeleton.tables.map(\.name) == ["nat", "filter"])
        #expect(skeleton.tables.flatMap(\.chains).map(\.name) == PortalChain.allCases.map(\.rawValue))
        #expect(skeleton.tables.flatMap(\.rules).isEmpty)
    }
}
