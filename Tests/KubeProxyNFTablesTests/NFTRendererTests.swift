import KubeProxyCore
import KubeProxyNFTables
import KubeProxyTesting
import Testing

@Suite struct NFTRendererTests {
    typealias F = Fixture
    static let name = F.name("ns1", "svc1")

    /// L1 local ready, R2 remote ready, LT3 local serving+terminating, RT4 remote
    /// serving+terminating, NS5 remote terminating and not serving.
    static let l1 = F.endpoint("10.0.0.1", node: F.nodeName)
    static let r2 = F.endpoint("10.0.0.2", node: "node-b")
    static let lt3 = Endpoint(ip: F.ip("10.0.0.3"), port: 80, ready: false, serving: true, terminating: true, nodeName: F.nodeName)
    static let rt4 = Endpoint(ip: F.ip("10.0.0.4"), port: 80, ready: false, serving: true, terminating: true, nodeName: "node-b")
    static let ns5 = Endpoint(ip: F.ip("10.0.0.5"), port: 80, ready: false, serving: false, terminating: true, nodeName: "node-b")

    static func port(itp: TrafficPolicy = .cluster, etp: TrafficPolicy = .cluster, external: Bool = false) -> ServicePort {
        ServicePort(
            name: name, clusterIP: F.ip("172.30.0.41"), port: 80, nodePort: external ? 3001 : 0,
            externalIPs: external ? [F.ip("192.168.99.11")] : [], loadBalancerIPs: external ? [F.ip("1.2.3.4")] : [],
            externalTrafficPolicy: etp, internalTrafficPolicy: itp)
    }

    /// `set key : value` for every dispatch element.
    static func verdicts(_ objects: NFTServicePortObjects) -> [String] {
        objects.elements.filter { $0.set != NFTRenderer.clusterIPsSet }.map { "\($0.set) \($0.keyText) : \($0.value ?? "")" }
    }

    /// The endpoint IPs a policy chain balances over, `nil` when the chain does not exist.
    static func balanced(_ objects: NFTServicePortObjects, _ prefix: String) -> [String]? {
        guard let chain = objects.chains.first(where: { $0.name.hasPrefix(prefix) }) else { return nil }
        let balancing = chain.rules.map(\.body).filter { $0.hasPrefix("numgen random mod ") || $0.hasPrefix("goto endpoint-") }
        return balancing.joined(separator: " ").split(separator: " ").filter { $0.hasPrefix("endpoint-") }.map { word in
            String(word.split(separator: "_").last?.split(separator: "/").first ?? "")
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var port: ServicePort
        var endpoints: [Endpoint]
        var verdicts: [String]
        var service: [String]?
        var local: [String]?
        var topology = NodeTopology(nodeName: F.nodeName)
    }

    static let s = "service-ULMVA6XW-ns1/svc1/tcp/p80", l = "local-ULMVA6XW-ns1/svc1/tcp/p80", x = "external-ULMVA6XW-ns1/svc1/tcp/p80"

    /// spec §1.3 (which endpoints) and §1.4 (REJECT / DROP when missing), as rendered verdicts.
    static let rows: [Row] = [
        Row(
            testDescription: "cluster policy uses every ready endpoint", port: port(), endpoints: [l1, r2],
            verdicts: ["service-ips 172.30.0.41 . tcp . 80 : goto \(s)"], service: ["10.0.0.1", "10.0.0.2"]),
        Row(
            testDescription: "no usable endpoint anywhere: REJECT everywhere", port: port(external: true), endpoints: [ns5],
            verdicts: [
                "no-endpoint-services 172.30.0.41 . tcp . 80 : goto reject-chain",
                "no-endpoint-services 192.168.99.11 . tcp . 80 : goto reject-chain",
                "no-endpoint-services 1.2.3.4 . tcp . 80 : goto reject-chain",
                "no-endpoint-nodeports tcp . 3001 : goto reject-chain",
            ]),
        Row(
            testDescription: "ITP Local, none local: ClusterIP DROP", port: port(itp: .local), endpoints: [r2],
            verdicts: ["no-endpoint-services 172.30.0.41 . tcp . 80 : drop"]),
        Row(
            testDescription: "ITP Local: local endpoints only", port: port(itp: .local), endpoints: [l1, r2],
            verdicts: ["service-ips 172.30.0.41 . tcp . 80 : goto \(l)"], local: ["10.0.0.1"]),
        Row(
            testDescription: "ITP Local, none local, external Cluster: external unaffected", port: port(itp: .local, external: true),
            endpoints: [r2],
            verdicts: [
                "no-endpoint-services 172.30.0.41 . tcp . 80 : drop", "service-ips 192.168.99.11 . tcp . 80 : goto \(x)",
                "service-ips 1.2.3.4 . tcp . 80 : goto \(x)", "service-nodeports tcp . 3001 : goto \(x)",
            ], service: ["10.0.0.2"]),
        Row(
            testDescription: "ETP Local, none local: external DROP, ClusterIP unaffected", port: port(etp: .local, external: true),
            endpoints: [r2],
            verdicts: [
                "service-ips 172.30.0.41 . tcp . 80 : goto \(s)",
                "service-ips 192.168.99.11 . tcp . 80 : goto \(x)", "no-endpoint-services 192.168.99.11 . tcp . 80 : drop",
                "service-ips 1.2.3.4 . tcp . 80 : goto \(x)", "no-endpoint-services 1.2.3.4 . tcp . 80 : drop",
                "service-nodeports tcp . 3001 : goto \(x)", "no-endpoint-nodeports tcp . 3001 : drop",
            ], service: ["10.0.0.2"]),
        Row(
            testDescription: "ETP Local with a local endpoint", port: port(etp: .local, external: true), endpoints: [l1, r2],
            verdicts: [
                "service-ips 172.30.0.41 . tcp . 80 : goto \(s)", "service-ips 192.168.99.11 . tcp . 80 : goto \(x)",
                "service-ips 1.2.3.4 . tcp . 80 : goto \(x)", "service-nodeports tcp . 3001 : goto \(x)",
            ], service: ["10.0.0.1", "10.0.0.2"], local: ["10.0.0.1"]),
        Row(
            testDescription: "both Local, external: short-circuit still has the cluster chain",
            port: port(itp: .local, etp: .local, external: true),
            endpoints: [r2],
            verdicts: [
                "no-endpoint-services 172.30.0.41 . tcp . 80 : drop",
                "service-ips 192.168.99.11 . tcp . 80 : goto \(x)", "no-endpoint-services 192.168.99.11 . tcp . 80 : drop",
                "service-ips 1.2.3.4 . tcp . 80 : goto \(x)", "no-endpoint-services 1.2.3.4 . tcp . 80 : drop",
                "service-nodeports tcp . 3001 : goto \(x)", "no-endpoint-nodeports tcp . 3001 : drop",
            ], service: ["10.0.0.2"]),
        Row(
            testDescription: "cluster falls back to serving+terminating", port: port(), endpoints: [rt4, ns5],
            verdicts: ["service-ips 172.30.0.41 . tcp . 80 : goto \(s)"], service: ["10.0.0.4"]),
        Row(
            testDescription: "ready endpoints win over terminating ones", port: port(), endpoints: [r2, rt4],
            verdicts: ["service-ips 172.30.0.41 . tcp . 80 : goto \(s)"], service: ["10.0.0.2"]),
        Row(
            testDescription: "local falls back to local serving+terminating", port: port(etp: .local, external: true),
            endpoints: [r2, lt3],
            verdicts: [
                "service-ips 172.30.0.41 . tcp . 80 : goto \(s)", "service-ips 192.168.99.11 . tcp . 80 : goto \(x)",
                "service-ips 1.2.3.4 . tcp . 80 : goto \(x)", "service-nodeports tcp . 3001 : goto \(x)",
            ], service: ["10.0.0.2"], local: ["10.0.0.3"]),
        Row(
            testDescription: "zone hints keep this zone's endpoints", port: port(),
            endpoints: [
                Endpoint(ip: F.ip("10.0.0.1"), port: 80, zoneHints: ["zone-a"]),
                Endpoint(ip: F.ip("10.0.0.2"), port: 80, zoneHints: ["zone-b"]),
            ],
            verdicts: ["service-ips 172.30.0.41 . tcp . 80 : goto \(s)"], service: ["10.0.0.1"],
            topology: NodeTopology(nodeName: F.nodeName, zone: "zone-a")),
        Row(
            testDescription: "node hints keep this node's endpoints", port: port(),
            endpoints: [
                Endpoint(ip: F.ip("10.0.0.1"), port: 80, nodeHints: [F.nodeName]),
                Endpoint(ip: F.ip("10.0.0.2"), port: 80, nodeHints: ["node-b"]),
            ],
            verdicts: ["service-ips 172.30.0.41 . tcp . 80 : goto \(s)"], service: ["10.0.0.1"]),
    ]

    @Test(arguments: rows)
    func endpointSelectionAsVerdicts(_ row: Row) {
        var options = F.options()
        options.topology = row.topology
        let objects = NFTRenderer(options: options).render(row.port, endpoints: row.endpoints)
        #expect(Self.verdicts(objects) == row.verdicts)
        #expect(Self.balanced(objects, "service-") == row.service)
        #expect(Self.balanced(objects, "local-") == row.local)
    }

    /// ETP Local: pod and node traffic short-circuits to the cluster chain, the rest to local-.
    /// Balancing without a set: target k of n is taken with probability 1/(n−k) once the
    /// earlier rules missed, which makes every target's share exactly 1/n.
    @Test(arguments: [1, 2, 3, 7]) func balancingRulesAreUniform(count: Int) throws {
        let targets = (0..<count).map { "endpoint-\($0)" }
        var options = F.options()
        options.setlessBalancing = true
        let rules = NFTRenderer(options: options).balancingRules("service-x", targets).map(\.body)
        #expect(rules.count == count)
        #expect(rules.last == "goto endpoint-\(count - 1)")
        // Shares as fractions over the common denominator n!: reaching rule k costs the
        // product of the earlier misses.
        let denominator = (1...count).reduce(1, *)
        var reaching = denominator
        for (index, body) in rules.enumerated() {
            let words = body.split(separator: " ")
            let modulus = words.count == 7 ? Int(words[3]) ?? 0 : 1
            #expect(words.count == 7 ? words[4] == "0" && words[5] == "goto" : words[0] == "goto", "\(body)")
            #expect(String(words.last ?? "") == targets[index])
            #expect(modulus == count - index)
            let share = reaching / modulus
            #expect(share * count == denominator, "share of \(targets[index])")
            reaching -= share
        }
        #expect(reaching == 0)
    }

    @Test func externalChainUnderLocalPolicy() {
        let objects = NFTRenderer(options: F.options()).render(Self.port(etp: .local, external: true), endpoints: [Self.l1, Self.r2])
        let external = objects.chains.first { $0.name == Self.x }?.rules.map(\.body)
        #expect(
            external == [
                "ip saddr 10.0.0.0/8 goto \(Self.s)", "fib saddr type local jump mark-for-masquerade",
                "fib saddr type local goto \(Self.s)",
                "goto \(Self.l)",
            ])
    }

    @Test(arguments: [
        (LocalTrafficDetector.none, false, nil as String?, nil as String?),
        (
            .cidr(F.cidr("10.0.0.0/8")), false, "ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
            "ip saddr 10.0.0.0/8 goto"
        ),
        (.bridgeInterface("cbr0"), false, "ip daddr 172.30.0.41 iifname != \"cbr0\" jump mark-for-masquerade", "iifname \"cbr0\" goto"),
        (
            .interfaceNamePrefix("veth"), false, "ip daddr 172.30.0.41 iifname != \"veth*\" jump mark-for-masquerade",
            "iifname \"veth*\" goto"
        ),
        (.cidr(F.cidr("10.0.0.0/8")), true, "ip daddr 172.30.0.41 jump mark-for-masquerade", "ip saddr 10.0.0.0/8 goto"),
    ])
    func localTrafficDetection(_ detector: LocalTrafficDetector, _ masqueradeAll: Bool, _ masquerade: String?, _ shortCircuit: String?) {
        let options = F.options(masqueradeAll: masqueradeAll, detector: detector)
        let objects = NFTRenderer(options: options).render(Self.port(etp: .local, external: true), endpoints: [Self.l1])
        let service = objects.chains.first { $0.name == Self.s }?.rules.map(\.body) ?? []
        #expect(service.first { $0.contains("mark-for-masquerade") } == masquerade)
        let external = objects.chains.first { $0.name == Self.x }?.rules.map(\.body) ?? []
        #expect(external.first { $0.hasSuffix("goto \(Self.s)") && !$0.hasPrefix("fib") } == shortCircuit.map { "\($0) \(Self.s)" })
    }

    /// A source range containing the node IP also admits the LB IP (node → VIP hairpin).
    @Test func firewallAdmitsLoadBalancerIPWhenARangeHoldsTheNode() {
        var port = Self.port(external: true)
        port.loadBalancerSourceRanges = [F.cidr("192.168.0.0/24"), F.cidr("203.0.113.0/25")]
        let objects = NFTRenderer(options: F.options()).render(port, endpoints: [Self.r2])
        let firewall = objects.chains.first { $0.name.hasPrefix("firewall-") }
        #expect(firewall?.rules.map(\.body) == ["ip saddr != { 192.168.0.0/24 , 203.0.113.0/25 , 1.2.3.4 } drop"])
        #expect(
            objects.elements.contains(
                NFTElement(set: "firewall-ips", key: ["1.2.3.4", "tcp", "80"], value: "goto \(firewall?.name ?? "")")))
    }

    /// nodeport-addresses unset (match all): the fib form, loopback excluded, no nodeport-ips.
    @Test func nodePortsOnEveryLocalAddress() {
        let ruleset = NFTRenderer(options: F.options(nodePortAddresses: ["all"])).skeleton()
        let services = ruleset.chains.first { $0.name == "services" }?.rules.map(\.body)
        #expect(services?.last == "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports")
        #expect(ruleset.nodePortIPElements.isEmpty)
    }

    /// `primary` (the nftables default) means the node IPs; loopback entries are ignored.
    @Test func nodePortAddressesDefaultToPrimary() {
        var options = F.options()
        options.nodePortAddresses = NodePortAddresses(["primary", "127.0.0.0/8"], family: .ipv4)
        #expect(NFTRenderer(options: options).skeleton().nodePortIPElements.map(\.keyText) == ["192.168.0.2"])
        let defaults = NFTRenderOptions(
            KernelModeOptions(
                family: .ipv4, topology: NodeTopology(nodeName: "n"), nodePortAddresses: NodePortAddresses(["primary"], family: .ipv4),
                nodeIPs: [F.ip("192.168.0.2")]))
        #expect(NFTRenderer(options: defaults).skeleton().nodePortIPElements.map(\.keyText) == ["192.168.0.2"])
    }

    @Test func serviceCIDRDropRuleListsEveryCIDROrNone() {
        let two = NFTRenderer(options: F.options(serviceCIDRs: ["172.30.0.0/16", "172.31.0.0/16"])).skeleton()
        #expect(two.chains[0].rules.map(\.body).last == "ip daddr { 172.30.0.0/16 , 172.31.0.0/16 } drop")
        let none = NFTRenderer(options: F.options(serviceCIDRs: [])).skeleton()
        #expect(none.chains[0].rules.map(\.body) == ["ip daddr @cluster-ips reject"])
    }

    @Test func masqueradeMarkFollowsTheBit() {
        var options = F.options()
        options.masqueradeBit = 5
        let chains = NFTRenderer(options: options).skeleton().chains
        #expect(chains.first { $0.name == "mark-for-masquerade" }?.rules.map(\.body) == ["mark set mark or 0x20"])
        #expect(chains.first { $0.name == "masquerading" }?.rules.map(\.body).last == "masquerade fully-random")
    }

    /// IPv6: `ip6` table, `ipv6_addr`, `ip6 daddr`, `::1`, bracketed DNAT targets.
    @Test func ipv6Rendering() throws {
        let name = F.name("ns1", "svc1")
        let port = ServicePort(
            name: name, clusterIP: F.ip("fd00:172:30::41"), port: 80, nodePort: 3001, sessionAffinity: .clientIP(timeoutSeconds: 300))
        let snapshot = ProxySnapshot(family: .ipv6, servicePorts: [name: port], endpoints: [name: [F.endpoint("fd00:10::2", 8080)]])
        var driver = SyncDriver(options: F.options(family: .ipv6, nodePortAddresses: ["all"]))
        try driver.sync(snapshot, full: true)
        let table = try #require(driver.fake.table(.ip6))
        #expect(table.sets["cluster-ips"]?.definition.keyType == ["ipv6_addr"])
        #expect(table.elements(of: "cluster-ips") == ["fd00:172:30::41"])
        let base = NFTChainNames.base(name)
        let endpoint = "endpoint-" + NFTChainNames.endpointBase(name, EndpointAddress(ip: F.ip("fd00:10::2"), port: 8080))
        #expect(endpoint.hasSuffix("__fd00.10..2/8080"))
        #expect(table.elements(of: "service-ips") == ["fd00:172:30::41 . tcp . 80 : goto service-\(base)"])
        #expect(
            table.rules(of: "service-\(base)") == [
                "ip6 daddr fd00:172:30::41 ip6 saddr != fd00:10::/64 jump mark-for-masquerade",
                "ip6 saddr @affinity-\(endpoint.dropFirst(9)) goto \(endpoint)",
                "numgen random mod 1 vmap { 0 : goto \(endpoint) }",
            ])
        #expect(
            table.rules(of: endpoint) == [
                "ip6 saddr fd00:10::2 jump mark-for-masquerade", "update @affinity-\(endpoint.dropFirst(9)) { ip6 saddr }",
                "meta l4proto tcp dnat to [fd00:10::2]:8080",
            ])
        #expect(
            table.rules(of: "services")?.last == "fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports")
        #expect(
            table.rules(of: "cluster-ips-check")?.last
                == "ip6 daddr { fd00:10:96::/112 } drop comment \"Drop traffic to unallocated ClusterIPs\"")
    }
}
