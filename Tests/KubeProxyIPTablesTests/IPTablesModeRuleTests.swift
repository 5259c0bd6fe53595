import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// Every rule family of spec §2.3–2.8, one scenario each; every render also goes through a
/// full sync into the fake kernel (`renderChecked`), which checks the jump invariant.
@Suite struct IPTablesModeRuleTests {
    let parameters = UpstreamFixture.parameters()
    static let web = portName("ns", "web")
    static let webChains = ServiceChainNames(web)

    static func sep(_ address: String, _ port: Int = 80, _ name: ServicePortName = web) -> String {
        ServiceChainNames.endpointChain(name, endpoint: EndpointAddress(ip: ip(address), port: port))
    }

    @Test func noEndpointsRejectsEveryDestinationInFilterAndWritesNoNatChains() async throws {
        let port = ServicePort(
            name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010, externalIPs: [ip("192.168.99.10")],
            loadBalancerIPs: [ip("1.2.3.10")], loadBalancerSourceRanges: [cidr("203.0.113.0/25")])
        let rules = try await renderChecked(modeSnapshot(.ipv4, [port]), parameters)
        #expect(
            ruleLines(rules, "filter", "KUBE-SERVICES")
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "ns/web:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.10 --dport 80 -j REJECT"#
                ]))
        #expect(
            ruleLines(rules, "filter", "KUBE-EXTERNAL-SERVICES")
                == normalized([
                    #"-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web:p80 has no endpoints" -m tcp -p tcp -d 192.168.99.10 --dport 80 -j REJECT"#,
                    #"-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web:p80 has no endpoints" -m tcp -p tcp -d 1.2.3.10 --dport 80 -j REJECT"#,
                    #"-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30010 -j REJECT"#,
                ]))
        // No KUBE-FW without endpoints, so no firewall drop either.
        #expect(rules.rules(in: "KUBE-PROXY-FIREWALL", table: "filter").isEmpty)
        #expect(rules.table(named: "nat")?.chains.map(\.name) == ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"])
        #expect(ruleLines(rules, "nat", "KUBE-NODEPORTS").isEmpty)
    }

    @Test func internalLocalPolicyWithoutLocalEndpointsDropsClusterIPButKeepsExternalTraffic() async throws {
        let port = ServicePort(
            name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010, internalTrafficPolicy: .local)
        let snapshot = modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.1", node: "other-node")]])
        let rules = try await renderChecked(snapshot, parameters)
        #expect(
            ruleLines(rules, "filter", "KUBE-SERVICES")
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "ns/web:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.10 --dport 80 -j DROP"#
                ]))
        #expect(ruleLines(rules, "nat", "KUBE-SERVICES").count == 1)  // only the NodePort tail
        #expect(
            ruleLines(rules, "nat", "KUBE-NODEPORTS")
                == normalized([
                    "-A KUBE-NODEPORTS -m comment --comment ns/web:p80 -m tcp -p tcp --dport 30010 -j \(Self.webChains.external)"
                ]))
        #expect(rules.chain(Self.webChains.localPolicy, in: "nat") == nil)
        let plan = IPTablesModeState(parameters: parameters).plan(snapshot: snapshot)
        #expect(plan.counts.noLocalEndpointsInternal == 1)
        #expect(plan.counts.noLocalEndpointsExternal == 0)
    }

    @Test func internalLocalPolicyWithLocalEndpointUsesTheLocalChainOnly() async throws {
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, internalTrafficPolicy: .local)
        let snapshot = modeSnapshot(
            .ipv4, [port], [Self.web: [endpoint("10.180.0.1", node: "test-node"), endpoint("10.180.0.2", node: "other-node")]])
        let rules = try await renderChecked(snapshot, parameters)
        let svl = Self.webChains.localPolicy
        #expect(
            ruleLines(rules, "nat", "KUBE-SERVICES").first
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "ns/web:p80 cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 80 -j \#(svl)"#
                ])[0])
        #expect(
            ruleLines(rules, "nat", svl)
                == normalized([
                    #"-A \#(svl) -m comment --comment "ns/web:p80 cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"#,
                    #"-A \#(svl) -m comment --comment "ns/web:p80 -> 10.180.0.1:80" -j \#(Self.sep("10.180.0.1"))"#,
                ]))
        #expect(rules.chain(Self.webChains.clusterPolicy, in: "nat") == nil)
        #expect(rules.chain(Self.sep("10.180.0.2"), in: "nat") == nil)
    }

    @Test func externalLocalPolicyWithLocalEndpointShortCircuitsAndEndsInTheLocalChain() async throws {
        let port = ServicePort(
            name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010, externalTrafficPolicy: .local,
            healthCheckNodePort: 30900)
        let snapshot = modeSnapshot(
            .ipv4, [port], [Self.web: [endpoint("10.180.0.1", node: "test-node"), endpoint("10.180.0.2", node: "other-node")]])
        let rules = try await renderChecked(snapshot, parameters)
        let (ext, svc, svl) = (Self.webChains.external, Self.webChains.clusterPolicy, Self.webChains.localPolicy)
        #expect(
            ruleLines(rules, "nat", ext)
                == normalized([
                    #"-A \#(ext) -m comment --comment "pod traffic for ns/web:p80 external destinations" -s 10.0.0.0/8 -j \#(svc)"#,
                    #"-A \#(ext) -m comment --comment "masquerade LOCAL traffic for ns/web:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"#,
                    #"-A \#(ext) -m comment --comment "route LOCAL traffic for ns/web:p80 external destinations" -m addrtype --src-type LOCAL -j \#(svc)"#,
                    "-A \(ext) -j \(svl)",
                ]))
        #expect(rules.rules(in: svc, table: "nat").count == 3)  // masquerade + two endpoints
        #expect(
            ruleLines(rules, "nat", svl)
                == normalized([#"-A \#(svl) -m comment --comment "ns/web:p80 -> 10.180.0.1:80" -j \#(Self.sep("10.180.0.1"))"#]))
        #expect(
            ruleLines(rules, "filter", "KUBE-NODEPORTS")
                == normalized([
                    #"-A KUBE-NODEPORTS -m comment --comment "ns/web:p80 health check node port" -m tcp -p tcp --dport 30900 -j ACCEPT"#
                ]))
        #expect(rules.rules(in: "KUBE-EXTERNAL-SERVICES", table: "filter").isEmpty)
    }

    /// Upstream computes cluster endpoints for every externally accessible port: with both
    /// policies Local, pod and node traffic to the NodePort still short-circuits to KUBE-SVC.
    @Test func bothPoliciesLocalStillShortCircuitToClusterEndpoints() async throws {
        let port = ServicePort(
            name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010, externalTrafficPolicy: .local,
            internalTrafficPolicy: .local)
        let snapshot = modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.2", node: "other-node")]])
        let rules = try await renderChecked(snapshot, parameters)
        let ext = Self.webChains.external
        #expect(
            rules.rules(in: ext, table: "nat").map(\.target) == [
                Self.webChains.clusterPolicy, "KUBE-MARK-MASQ", Self.webChains.clusterPolicy,
            ])
        #expect(
            ruleLines(rules, "nat", Self.webChains.clusterPolicy)
                == normalized([
                    #"-A \#(Self.webChains.clusterPolicy) -m comment --comment "ns/web:p80 -> 10.180.0.2:80" -j \#(Self.sep("10.180.0.2"))"#
                ]))
        #expect(rules.rules(in: "KUBE-SERVICES", table: "filter").map(\.target) == ["DROP"])
        #expect(rules.rules(in: "KUBE-EXTERNAL-SERVICES", table: "filter").map(\.target) == ["DROP"])
    }

    @Test func externalLocalPolicyWithoutDetectorHasNoPodShortCircuit() async throws {
        var parameters = parameters
        parameters.localDetector = .none
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010, externalTrafficPolicy: .local)
        let snapshot = modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.1", node: "test-node")]])
        let rules = try await renderChecked(snapshot, parameters)
        #expect(rules.rules(in: Self.webChains.external, table: "nat").count == 3)
        // No detector and no --masquerade-all: no ClusterIP masquerade rule either.
        #expect(rules.rules(in: Self.webChains.clusterPolicy, table: "nat").map(\.target) == [Self.sep("10.180.0.1")])
    }

    @Test func loadBalancerSourceRangesGoThroughTheFirewallChainAndLetTheNodeIn() async throws {
        let port = ServicePort(
            name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, loadBalancerIPs: [ip("1.2.3.4"), ip("1.2.3.5")],
            loadBalancerSourceRanges: [cidr("203.0.113.0/25"), cidr("192.168.0.0/24")])
        let snapshot = modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.1")]])
        let rules = try await renderChecked(snapshot, parameters)
        let (fw, ext) = (Self.webChains.firewall, Self.webChains.external)
        #expect(
            ruleLines(rules, "nat", fw)
                == normalized([
                    #"-A \#(fw) -m comment --comment "ns/web:p80 loadbalancer IP" -s 203.0.113.0/25 -j \#(ext)"#,
                    #"-A \#(fw) -m comment --comment "ns/web:p80 loadbalancer IP" -s 192.168.0.0/24 -j \#(ext)"#,
                    #"-A \#(fw) -m comment --comment "ns/web:p80 loadbalancer IP" -s 1.2.3.4 -j \#(ext)"#,
                    #"-A \#(fw) -m comment --comment "ns/web:p80 loadbalancer IP" -s 1.2.3.5 -j \#(ext)"#,
                    #"-A \#(fw) -m comment --comment "other traffic to ns/web:p80 will be dropped by KUBE-PROXY-FIREWALL""#,
                ]))
        #expect(
            ruleLines(rules, "filter", "KUBE-PROXY-FIREWALL")
                == normalized([
                    #"-A KUBE-PROXY-FIREWALL -m comment --comment "ns/web:p80 traffic not accepted by \#(fw)" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP"#,
                    #"-A KUBE-PROXY-FIREWALL -m comment --comment "ns/web:p80 traffic not accepted by \#(fw)" -m tcp -p tcp -d 1.2.3.5 --dport 80 -j DROP"#,
                ]))
        #expect(rules.rules(in: "KUBE-SERVICES", table: "nat").filter { $0.target == fw }.count == 2)
    }

    @Test func affinityChecksRecentListsBeforeBalancingAndRecordsOnDNAT() async throws {
        let port = ServicePort(
            name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, sessionAffinity: .clientIP(timeoutSeconds: 300))
        let snapshot = modeSnapshot(
            .ipv4, [port], [Self.web: [endpoint("10.180.0.1"), endpoint("10.180.0.2"), endpoint("10.180.0.3")]])
        let rules = try await renderChecked(snapshot, parameters)
        let svc = Self.webChains.clusterPolicy
        let (a, b, c) = (Self.sep("10.180.0.1"), Self.sep("10.180.0.2"), Self.sep("10.180.0.3"))
        #expect(
            ruleLines(rules, "nat", svc)
                == normalized([
                    #"-A \#(svc) -m comment --comment "ns/web:p80 cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"#,
                    #"-A \#(svc) -m comment --comment "ns/web:p80 -> 10.180.0.1:80" -m recent --name \#(a) --rcheck --seconds 300 --reap -j \#(a)"#,
                    #"-A \#(svc) -m comment --comment "ns/web:p80 -> 10.180.0.2:80" -m recent --name \#(b) --rcheck --seconds 300 --reap -j \#(b)"#,
                    #"-A \#(svc) -m comment --comment "ns/web:p80 -> 10.180.0.3:80" -m recent --name \#(c) --rcheck --seconds 300 --reap -j \#(c)"#,
                    #"-A \#(svc) -m comment --comment "ns/web:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j \#(a)"#,
                    #"-A \#(svc) -m comment --comment "ns/web:p80 -> 10.180.0.2:80" -m statistic --mode random --probability 0.5000000000 -j \#(b)"#,
                    #"-A \#(svc) -m comment --comment "ns/web:p80 -> 10.180.0.3:80" -j \#(c)"#,
                ]))
        #expect(
            ruleLines(rules, "nat", b)
                == normalized([
                    "-A \(b) -m comment --comment ns/web:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ",
                    "-A \(b) -m comment --comment ns/web:p80 -m recent --name \(b) --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80",
                ]))
    }

    @Test func udpAndSctpUseTheirProtocolMatch() async throws {
        let dns = portName("kube-system", "dns", "dns", .udp)
        let port = ServicePort(name: dns, clusterIP: ip("172.30.0.53"), port: 53)
        let rules = try await renderChecked(modeSnapshot(.ipv4, [port], [dns: [endpoint("10.180.0.9", 5353)]]), parameters)
        let sep = Self.sep("10.180.0.9", 5353, dns)
        #expect(
            ruleLines(rules, "nat", "KUBE-SERVICES").first
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "kube-system/dns:dns cluster IP" -m udp -p udp -d 172.30.0.53 --dport 53 -j \#(ServiceChainNames(dns).clusterPolicy)"#
                ])[0])
        #expect(
            ruleLines(rules, "nat", sep).last
                == normalized(["-A \(sep) -m comment --comment kube-system/dns:dns -m udp -p udp -j DNAT --to-destination 10.180.0.9:5353"]
                )[0])
    }

    @Test func masqueradeAllMasqueradesEveryClusterIPPacket() async throws {
        var parameters = parameters
        parameters.masqueradeAll = true
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80)
        let rules = try await renderChecked(modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.1")]]), parameters)
        let svc = Self.webChains.clusterPolicy
        #expect(
            ruleLines(rules, "nat", svc).first
                == normalized([
                    #"-A \#(svc) -m comment --comment "ns/web:p80 cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 80 -j KUBE-MARK-MASQ"#
                ])[0])
    }

    @Test(arguments: [
        (LocalTrafficDetector.bridgeInterface("cbr0"), ["!", "-i", "cbr0"], ["-i", "cbr0"]),
        (LocalTrafficDetector.interfaceNamePrefix("veth"), ["!", "-i", "veth+"], ["-i", "veth+"]),
        (LocalTrafficDetector.cidr(cidr("10.244.0.0/16")), ["!", "-s", "10.244.0.0/16"], ["-s", "10.244.0.0/16"]),
    ])
    func localTrafficDetectorsRenderTheirMatches(detector: LocalTrafficDetector, notLocal: [String], local: [String]) async throws {
        var parameters = parameters
        parameters.localDetector = detector
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010, externalTrafficPolicy: .local)
        let rules = try await renderChecked(
            modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.1", node: "test-node")]]), parameters)
        let masquerade = try #require(rules.rules(in: Self.webChains.clusterPolicy, table: "nat").first)
        #expect(
            masquerade.arguments.suffix(notLocal.count + 2) == ArraySlice(notLocal + ["-j", "KUBE-MARK-MASQ"]))
        let pod = try #require(rules.rules(in: Self.webChains.external, table: "nat").first)
        #expect(pod.arguments.suffix(local.count + 2) == ArraySlice(local + ["-j", Self.webChains.clusterPolicy]))
    }

    @Test func terminatingEndpointsServeWhenNoneIsReady() async throws {
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80)
        let snapshot = modeSnapshot(
            .ipv4, [port],
            [
                Self.web: [
                    endpoint("10.180.0.1", ready: false, serving: true, terminating: true),
                    endpoint("10.180.0.2", ready: false, serving: false, terminating: true),
                ]
            ])
        let rules = try await renderChecked(snapshot, parameters)
        #expect(
            rules.rules(in: Self.webChains.clusterPolicy, table: "nat").compactMap(\.target) == ["KUBE-MARK-MASQ", Self.sep("10.180.0.1")])
        #expect(rules.chain(Self.sep("10.180.0.2"), in: "nat") == nil)
    }

    @Test func zoneHintsKeepOnlyThisZonesEndpoints() async throws {
        var parameters = parameters
        parameters.topology = NodeTopology(nodeName: "test-node", zone: "zone-a")
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80)
        let snapshot = modeSnapshot(
            .ipv4, [port],
            [Self.web: [endpoint("10.180.0.1", zoneHints: ["zone-a"]), endpoint("10.180.0.2", zoneHints: ["zone-b"])]])
        let rules = try await renderChecked(snapshot, parameters)
        #expect(
            rules.rules(in: Self.webChains.clusterPolicy, table: "nat").compactMap(\.target) == ["KUBE-MARK-MASQ", Self.sep("10.180.0.1")])
    }

    @Test func postroutingMarkForwardAndRandomFullyFollowTheParameters() async throws {
        var parameters = parameters
        parameters.masqueradeBit = 15
        parameters.randomFully = true
        parameters.conntrackTCPBeLiberal = true
        let rules = try await renderChecked(modeSnapshot(.ipv4, []), parameters)
        #expect(
            ruleLines(rules, "nat", "KUBE-POSTROUTING")
                == normalized([
                    "-A KUBE-POSTROUTING -m mark ! --mark 0x8000/0x8000 -j RETURN",
                    "-A KUBE-POSTROUTING -j MARK --xor-mark 0x8000",
                    #"-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#,
                ]))
        #expect(ruleLines(rules, "nat", "KUBE-MARK-MASQ") == ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x8000"])
        // be_liberal set: no INVALID drop (TestDropInvalidRule).
        #expect(
            ruleLines(rules, "filter", "KUBE-FORWARD")
                == normalized([
                    #"-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x8000/0x8000 -j ACCEPT"#,
                    #"-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#,
                ]))
        parameters.conntrackTCPBeLiberal = false
        let strict = try await renderChecked(modeSnapshot(.ipv4, []), parameters)
        #expect(ruleLines(strict, "filter", "KUBE-FORWARD").first == "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP")
    }

    @Test func localhostNodePortsOffExcludesLoopbackAndDropsTheGuard() async throws {
        var parameters = parameters
        parameters.localhostNodePorts = false
        let rules = try await renderChecked(modeSnapshot(.ipv4, []), parameters)
        #expect(
            ruleLines(rules, "nat", "KUBE-SERVICES")
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"#
                ]))
        #expect(rules.chain("KUBE-FIREWALL", in: "filter") == nil)
        #expect(!IPTablesModeRenderer(parameters: parameters).jumpRules().contains { $0.rule.target == "KUBE-FIREWALL" })
    }

    @Test func nodePortAddressesListTheSelectedNodeIPs() async throws {
        var parameters = parameters
        parameters.nodePortAddresses = NodePortAddresses(["192.168.0.0/24", "127.0.0.0/8"], family: .ipv4)
        parameters.localAddresses = [ip("192.168.0.2"), ip("192.168.1.2"), ip("127.0.0.1")]
        let rules = try await renderChecked(modeSnapshot(.ipv4, []), parameters)
        let note = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
        #expect(
            ruleLines(rules, "nat", "KUBE-SERVICES")
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "\#(note)" -d 127.0.0.1 -j KUBE-NODEPORTS"#,
                    #"-A KUBE-SERVICES -m comment --comment "\#(note)" -d 192.168.0.2 -j KUBE-NODEPORTS"#,
                ]))
        #expect(rules.chain("KUBE-FIREWALL", in: "filter") != nil)
        // Without 127.0.0.1 among the addresses, localhost NodePorts turn off, guard included.
        parameters.nodePortAddresses = NodePortAddresses(["192.168.0.0/24"], family: .ipv4)
        let withoutLoopback = try await renderChecked(modeSnapshot(.ipv4, []), parameters)
        #expect(!parameters.effectiveLocalhostNodePorts)
        #expect(withoutLoopback.chain("KUBE-FIREWALL", in: "filter") == nil)
        #expect(ruleLines(withoutLoopback, "nat", "KUBE-SERVICES").count == 1)
    }

    @Test func nfacctRulesOnlyWhenTheCountersExist() async throws {
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80, nodePort: 30010)
        let snapshot = modeSnapshot(.ipv4, [port], [Self.web: [endpoint("10.180.0.1")]])
        let without = try await renderChecked(snapshot, parameters)
        #expect(without.rules(in: "KUBE-NODEPORTS", table: "nat").count == 1)
        #expect(!without.rules(in: "KUBE-FORWARD", table: "filter").contains { $0.arguments.contains("nfacct") })
        let with = try await renderChecked(snapshot, UpstreamFixture.parameters(nfacct: true))
        #expect(with.rules(in: "KUBE-NODEPORTS", table: "nat").count == 2)
    }

    @Test func ipv6UsesV6LoopbackBracketedEndpointsAndNoLocalhostNodePorts() async throws {
        let parameters = UpstreamFixture.parameters(family: .ipv6, nfacct: true)
        let port = ServicePort(name: Self.web, clusterIP: ip("fd00:172:30::41"), port: 80, nodePort: 30010)
        let snapshot = modeSnapshot(.ipv6, [port], [Self.web: [endpoint("fd00:10::2")]])
        var harness = ModeHarness(parameters)
        try await harness.sync(snapshot)
        let rules = IPTablesModeRenderer(parameters: parameters).render(snapshot)
        let sep = ServiceChainNames.endpointChain(Self.web, endpoint: EndpointAddress(ip: ip("fd00:10::2"), port: 80))
        #expect(sep == "KUBE-SEP-" + ChainHash.prefix(of: "ns/web:p80tcp[fd00:10::2]:80", length: 16))
        #expect(
            ruleLines(rules, "nat", sep)
                == normalized([
                    "-A \(sep) -m comment --comment ns/web:p80 -s fd00:10::2 -j KUBE-MARK-MASQ",
                    "-A \(sep) -m comment --comment ns/web:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10::2]:80",
                ]))
        #expect(
            ruleLines(rules, "nat", "KUBE-SERVICES").last
                == normalized([
                    #"-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS"#
                ])[0])
        #expect(
            ruleLines(rules, "nat", Self.webChains.clusterPolicy).first
                == normalized([
                    #"-A \#(Self.webChains.clusterPolicy) -m comment --comment "ns/web:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::41 --dport 80 ! -s fd00:10::/64 -j KUBE-MARK-MASQ"#
                ])[0])
        // No localhost NodePorts on IPv6: no localnet guard, no counted loopback NodePort rule.
        #expect(rules.chain("KUBE-FIREWALL", in: "filter") == nil)
        #expect(rules.rules(in: "KUBE-NODEPORTS", table: "nat").count == 1)
        #expect(kubeChains(harness.tables, saveOrder: true) == kubeChains(rules, saveOrder: true))
    }

    @Test func largeClusterModeDropsPerEndpointComments() async throws {
        var parameters = parameters
        parameters.largeClusterEndpointsThreshold = 2
        let port = ServicePort(name: Self.web, clusterIP: ip("172.30.0.10"), port: 80)
        let snapshot = modeSnapshot(
            .ipv4, [port], [Self.web: [endpoint("10.180.0.1"), endpoint("10.180.0.2"), endpoint("10.180.0.3")]])
        let rules = try await renderChecked(snapshot, parameters)
        let svc = Self.webChains.clusterPolicy
        let a = Self.sep("10.180.0.1")
        #expect(
            ruleLines(rules, "nat", svc)
                == normalized([
                    #"-A \#(svc) -m comment --comment "ns/web:p80 cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"#,
                    "-A \(svc) -m statistic --mode random --probability 0.3333333333 -j \(a)",
                    "-A \(svc) -m statistic --mode random --probability 0.5000000000 -j \(Self.sep("10.180.0.2"))",
                    "-A \(svc) -j \(Self.sep("10.180.0.3"))",
                ]))
        #expect(
            ruleLines(rules, "nat", a)
                == normalized(["-A \(a) -s 10.180.0.1 -j KUBE-MARK-MASQ", "-A \(a) -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80"]))
        // Dispatch rules keep their comments.
        #expect(rules.rules(in: "KUBE-SERVICES", table: "nat").allSatisfy { $0.arguments.contains("--comment") })
    }

    @Test func jumpsFromBuiltinChainsFollowUpstreamsListAndEndUpReversed() async throws {
        var harness = ModeHarness(parameters)
        try await harness.sync(modeSnapshot(.ipv4, []))
        let input = harness.tables.rules(in: "INPUT", table: "filter").map(\.target)
        #expect(input == ["KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"])
        #expect(
            harness.tables.rules(in: "FORWARD", table: "filter").map(\.target) == [
                "KUBE-PROXY-FIREWALL", "KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES",
            ])
        #expect(
            harness.tables.rules(in: "OUTPUT", table: "filter").map(\.target) == ["KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"])
        #expect(harness.tables.rules(in: "PREROUTING", table: "nat").map(\.target) == ["KUBE-SERVICES"])
        #expect(harness.tables.rules(in: "OUTPUT", table: "nat").map(\.target) == ["KUBE-SERVICES"])
        #expect(harness.tables.rules(in: "POSTROUTING", table: "nat").map(\.target) == ["KUBE-POSTROUTING"])
        #expect(
            harness.tables.rules(in: "INPUT", table: "filter").last?.arguments == [
                "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j",
                "KUBE-EXTERNAL-SERVICES",
            ])
        // The canary exists in all three tables.
        for table in ["mangle", "nat", "filter"] { #expect(harness.tables.chain("KUBE-PROXY-CANARY", in: table) != nil) }
    }
}
