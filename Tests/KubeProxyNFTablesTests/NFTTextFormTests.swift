import KubeProxyCore
import KubeProxyNFTables
import KubeProxyTesting
import Testing

/// The grouped spelling of partial syncs (`NFTTextForm`): nft 1.0.x dumps every chain of the
/// table before any `add rule`, `add element`, `delete …` or `add table { … }`, so a partial
/// sync that changes endpoints is written with none of them, and must leave the same table.
@Suite struct NFTTextFormTests {
    typealias F = Fixture

    static let clusterIPs = NFTSet(name: "cluster-ips", keyType: ["ipv4_addr"], comment: "Active ClusterIPs")
    static let serviceIPs = NFTSet(
        name: "service-ips", keyType: ["ipv4_addr", "inet_proto", "inet_service"], valueType: "verdict", comment: "dispatch")

    /// One small transaction: its exact grouped text, and what that text reads back as.
    @Test func groupedTextAndItsReading() throws {
        let chain = "service-X-ns1/svc1/tcp/p80"
        var tx = NFTTransaction(family: .ip)
        tx.append(.addChain(NFTChain(name: chain)))
        tx.append(.flushChain(chain))
        tx.append(.addRule(NFTRule(chain: chain, "ip daddr @cluster-ips reject", comment: "why")))
        tx.append(.addRule(NFTRule(chain: chain, "goto endpoint-Y")))
        tx.append(.addElement(NFTElement(set: "service-ips", key: ["172.30.0.41", "tcp", "80"], value: "goto \(chain)")))
        tx.append(.addElement(NFTElement(set: "service-ips", key: ["172.30.0.42", "tcp", "80"], value: "drop", comment: "ns/svc:p")))
        tx.append(.deleteElement(NFTElement(set: "cluster-ips", key: ["172.30.0.9"])))
        tx.textForm = .grouped(declarations: [Self.clusterIPs.name: Self.clusterIPs, Self.serviceIPs.name: Self.serviceIPs])

        #expect(
            tx.text == """
                add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
                add chain ip kube-proxy \(chain)
                flush chain ip kube-proxy \(chain)
                add chain ip kube-proxy \(chain) { ip daddr @cluster-ips reject comment "why" ; goto endpoint-Y ; }
                add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "dispatch" ; \
                elements = { 172.30.0.41 . tcp . 80 : goto \(chain), 172.30.0.42 . tcp . 80 comment "ns/svc:p" : drop } ; }
                delete element ip kube-proxy cluster-ips { 172.30.0.9 }

                """)
        // Read back as what nft executes: the re-declarations appear, the blocks expand.
        let read = try NFTTransaction(parsing: tx.text, family: .ip)
        #expect(
            read.operations == [.addSet(Self.clusterIPs)] + tx.operations.prefix(4) + [.addSet(Self.serviceIPs)] + tx.operations.suffix(3))
        var pieces: [String] = []
        tx.writeText(chunkBytes: 1) { pieces.append($0) }
        #expect(pieces.joined() == tx.text)
        #expect(pieces.count == 6, "one piece per line at the smallest chunk size")
    }

    /// A rule naming a set without a declaration cannot be grouped (nft would not find the
    /// set in a cache without sets): the whole transaction keeps the line form.
    @Test func undeclaredSetKeepsTheLineForm() {
        var tx = NFTTransaction(family: .ip)
        tx.append(.addRule(NFTRule(chain: "c", "ip saddr @affinity-unknown goto d")))
        tx.append(.addElement(NFTElement(set: "cluster-ips", key: ["172.30.0.41"])))
        let lines = tx
        tx.textForm = .grouped(declarations: [Self.clusterIPs.name: Self.clusterIPs])
        #expect(tx.text == lines.text)
        #expect(tx.text.hasPrefix("add rule ip kube-proxy c ip saddr @affinity-unknown goto d\n"))
    }

    /// Partial syncs of endpoint changes (also with ClientIP affinity) and of a new service
    /// carry no command that makes nft dump chains, and leave the table that the same
    /// operations one per line leave.
    @Test func partialSyncsAvoidChainDumpsAndMatchTheLineForm() throws {
        var grouped = SyncDriver()
        let lines = FakeNFTables()
        var snapshot = F.sixServices()
        let first = try grouped.sync(snapshot, full: true)
        try lines.apply(text: first.main.text)

        var endpoints = snapshot.endpoints
        var ports = snapshot.servicePorts
        let svc4 = F.name("ns4", "svc4"), svc5 = F.name("ns5", "svc5"), svc7 = F.name("ns7", "svc7")
        let steps: [(String, Set<ServicePortName>, () -> Void)] = [
            ("endpoint added", [svc4], { endpoints[svc4]?.append(F.endpoint("10.180.0.9")) }),
            ("affinity endpoint replaced", [svc5], { endpoints[svc5] = [F.endpoint("10.180.0.7")] }),
            (
                "service added", [svc7],
                {
                    ports[svc7] = ServicePort(name: svc7, clusterIP: F.ip("172.30.0.47"), port: 80)
                    endpoints[svc7] = [F.endpoint("10.180.0.8")]
                }
            ),
        ]
        for (step, changed, edit) in steps {
            edit()
            snapshot = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
            let plan = try grouped.sync(snapshot, changed: changed)
            let text = plan.main.text
            #expect(!plan.main.isEmpty, "\(step)")
            for verb in ["add rule ", "add element ", "delete ", "add table "] {
                #expect(!text.contains("\n" + verb) && !text.hasPrefix(verb), "\(step): \(verb)")
            }
            var asLines = plan.main
            asLines.textForm = .lines
            try lines.apply(text: asLines.text)
            if !plan.cleanup.isEmpty { try lines.apply(text: plan.cleanup.text) }
            expectSameTable(grouped.fake.table(.ip), try #require(lines.table(.ip)))
        }
    }

    /// Removals still need `delete` (nft 1.0.6 has no other way to take an element, a set or a
    /// chain out), so a removed service costs the chain dump; they keep the line form.
    @Test func removalsKeepDeleteLines() throws {
        var driver = SyncDriver()
        var snapshot = F.sixServices()
        try driver.sync(snapshot, full: true)
        let svc1 = F.name("ns1", "svc1")
        var ports = snapshot.servicePorts
        ports[svc1] = nil
        snapshot = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: snapshot.endpoints)
        let text = try driver.sync(snapshot, changed: [svc1]).main.text
        #expect(text.contains("delete element ip kube-proxy cluster-ips { 172.30.0.41 }\n"))
        #expect(text.contains("flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"))
    }

    /// Sets named by the rules are declared before the rules that use them.
    @Test func affinitySetsAreDeclaredBeforeTheirRules() throws {
        var driver = SyncDriver()
        var snapshot = F.sixServices()
        try driver.sync(snapshot, full: true)
        var endpoints = snapshot.endpoints
        let svc5 = F.name("ns5", "svc5")
        endpoints[svc5] = [F.endpoint("10.180.0.3"), F.endpoint("10.180.0.7")]
        snapshot = ProxySnapshot(family: .ipv4, servicePorts: snapshot.servicePorts, endpoints: endpoints)
        let lines = try driver.sync(snapshot, changed: [svc5]).main.text.split(separator: "\n")
        let firstUse = try #require(lines.firstIndex { $0.contains("saddr @affinity-") })
        for name in ["affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"] {
            let declaration = try #require(lines.firstIndex { $0.hasPrefix("add set ip kube-proxy \(name) {") }, "\(name)")
            #expect(declaration < firstUse, "\(name)")
        }
    }
}
