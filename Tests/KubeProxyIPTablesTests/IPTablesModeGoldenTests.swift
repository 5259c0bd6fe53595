import Foundation
import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// Upstream's golden scenario, chain-name hashing and probability strings (spec §2.2, §2.4, §2.10).
@Suite struct IPTablesModeGoldenTests {
    static func fixture() throws -> IPTablesRuleSet {
        let path = Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/iptables-mode/overall-ipv4.iptables-save").path
        return try IPTablesRuleSet(parsingSave: String(contentsOfFile: path, encoding: .utf8))
    }

    @Test func overallRulesMatchUpstreamPerTableChainAndRuleOrder() async throws {
        let expected = kubeChains(try Self.fixture())
        let rendered = try await renderChecked(UpstreamFixture.overallSnapshot(), UpstreamFixture.parameters(nfacct: true))
        let actual = kubeChains(rendered)
        #expect(Set(actual.keys) == Set(expected.keys))
        for (table, chains) in expected {
            #expect(Set(actual[table]?.keys ?? [:].keys) == Set(chains.keys), "chains of \(table)")
            for (chain, rules) in chains {
                // Exact argument lists, in order: upstream's argument order is part of the contract.
                #expect(actual[table]?[chain] == rules, "\(table) \(chain)")
            }
        }
    }

    @Test func overallFullSyncLeavesTheFixtureInTheKernelAndCountsItsNatRules() async throws {
        var harness = ModeHarness(UpstreamFixture.parameters(nfacct: true))
        let plan = try await harness.sync(UpstreamFixture.overallSnapshot())
        let expected = try Self.fixture()
        #expect(kubeChains(harness.tables, saveOrder: true) == kubeChains(expected, saveOrder: true))
        // Upstream asserts iptables_total{table="nat"} equals the nat rules of the output.
        #expect(plan.counts.natRulesTotal == expected.table(named: "nat")?.rules.count)
        #expect(plan.counts.natRulesWritten == plan.counts.natRulesTotal)
        #expect(plan.counts.filterRules == expected.table(named: "filter")?.rules.count)
        #expect(plan.isFullSync)
        #expect(plan.counts.noLocalEndpointsExternal == 1)  // svc2
        #expect(plan.counts.noLocalEndpointsInternal == 0)
    }

    /// Without the nfacct objects (no kernel support or permission) upstream renders the same
    /// ruleset minus the counting: the INVALID drop without its `-m nfacct` match and no
    /// `-d 127.0.0.0/8` NodePort rules (those exist only to count localhost NodePort traffic;
    /// the plain NodePort rule after each still serves it).
    @Test func overallRulesWithoutNFAcctDropOnlyTheCounting() async throws {
        var expected = kubeChains(try Self.fixture())
        let nfacct = ["-m", "nfacct", "--nfacct-name"]
        let forward = try #require(expected["filter"]?["KUBE-FORWARD"])
        expected["filter"]?["KUBE-FORWARD"] = forward.map { rule in
            guard let start = rule.firstRange(of: nfacct)?.lowerBound else { return rule }
            return Array(rule[..<start] + rule[(start + 4)...])
        }
        let nodePorts = try #require(expected["nat"]?["KUBE-NODEPORTS"])
        expected["nat"]?["KUBE-NODEPORTS"] = nodePorts.filter { $0.firstRange(of: nfacct) == nil }
        #expect(expected["nat"]?["KUBE-NODEPORTS"]?.count == 3)
        #expect(expected["filter"]?["KUBE-FORWARD"]?.first == ["-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"])
        let rendered = kubeChains(try await renderChecked(UpstreamFixture.overallSnapshot(), UpstreamFixture.parameters(nfacct: false)))
        #expect(rendered == expected)
    }

    /// Every row of the verified table (spec §2.2).
    @Test(arguments: [
        ("ns1/svc1:p80tcp", "XPGD46QRK7WJZT7O"), ("ns2/svc2:p80tcp", "GNZBNJ2PO5MGZ6GT"), ("ns3/svc3:p80tcp", "X27LE4BHSL4DOUIK"),
        ("ns4/svc4:p80tcp", "4SW47YFZTEDKD3PK"), ("ns5/svc5:p80tcp", "NUKIZ6OKUXPJNT4C"), ("ns2/svc2:p8080tcp", "2VJB64SDSIJUP5T6"),
        ("ns4/svc4:p8082tcp", "EBDQOQU5SJFXRIL3"),
    ])
    func serviceChainHash(input: String, hash: String) {
        let (service, port) = (input.split(separator: ":")[0], input.split(separator: ":")[1].dropLast(3))
        let parts = service.split(separator: "/")
        let names = ServiceChainNames(portName(String(parts[0]), String(parts[1]), String(port)))
        #expect(names.clusterPolicy == "KUBE-SVC-" + hash)
        #expect(names.localPolicy == "KUBE-SVL-" + hash)
        #expect(names.external == "KUBE-EXT-" + hash)
        #expect(names.firewall == "KUBE-FW-" + hash)
        #expect(names.clusterPolicy.count <= 28)
    }

    @Test(arguments: [
        ("ns1", "svc1", "p80", "10.180.0.1", 80, "SXIVWICOYRO3J4NJ"), ("ns2", "svc2", "p80", "10.180.0.2", 80, "RS4RBKLTHTF2IUXJ"),
        ("ns3", "svc3", "p80", "10.180.0.3", 80, "OYPFS5VJICHGATKP"), ("ns4", "svc4", "p80", "10.180.0.4", 80, "UKSFD7AGPMPPLUHC"),
        ("ns4", "svc4", "p80", "10.180.0.5", 80, "C6EBXVWJJZMIWKLZ"), ("ns5", "svc5", "p80", "10.180.0.3", 80, "I77PXRDZVX7PMWMN"),
        ("ns1", "svc1", "p80", "10.0.0.0", 80, "DKGQUZGBKLTPAR56"), ("ns1", "svc1", "p80", "10.0.1.1", 80, "SNQ3ZNILQDEJNDQO"),
        ("ns2", "svc2", "p8080", "10.0.2.1", 8080, "UHEGFW77JX3KXTOV"), ("ns3", "svc3", "p80", "10.0.3.1", 80, "BSWRHOQ77KEXZLNL"),
        ("ns3", "svc3", "p80", "10.0.3.2", 80, "DKCFIS26GWF2WLWC"), ("ns3", "svc3", "p80", "10.0.3.3", 80, "JVVZVJ7BSEPPRNBS"),
        ("ns4", "svc4", "p80", "10.0.4.1", 80, "AYCN5HPXMIRJNJXU"), ("ns3", "svc3", "p8081", "203.0.113.4", 8081, "RUVVH7YV3PHQBDOS"),
        ("ns4", "svc4", "p8082", "10.4.0.1", 8082, "SU5STNODRYEWJAUF"),
    ])
    func endpointChainHash(namespace: String, service: String, port: String, address: String, number: Int, hash: String) {
        let chain = ServiceChainNames.endpointChain(
            portName(namespace, service, port), endpoint: EndpointAddress(ip: ip(address), port: number))
        #expect(chain == "KUBE-SEP-" + hash)
    }

    /// Upstream's `TestComputeProbability`.
    @Test(arguments: [
        (1, "1.0000000000"), (2, "0.5000000000"), (10, "0.1000000000"), (100, "0.0100000000"), (1000, "0.0010000000"),
        (10000, "0.0001000000"), (100_000, "0.0000100000"), (100_001, "0.0000099999"),
    ])
    func probability(n: Int, expected: String) {
        #expect(IPTablesProbability.of(n) == expected)
    }

    @Test func probabilitiesNeverDecreaseAsFewerEndpointsRemain() {
        var previous = 0.0
        var decreasing: [Int] = []
        for n in stride(from: 100_000, to: 1, by: -1) {
            let value = Double(IPTablesProbability.of(n)) ?? -1
            if value < previous { decreasing.append(n) }
            previous = value
        }
        #expect(decreasing.isEmpty)
    }

    /// Go rounds the double's exact value half to even: 1/2048 = 0.00048828125 exactly → …12;
    /// 1/3 and 2/3-style repeating values round to nearest.
    @Test func probabilityRoundsLikeGo() {
        #expect(IPTablesProbability.of(2048) == "0.0004882812")
        #expect(IPTablesProbability.of(3) == "0.3333333333")
        #expect(IPTablesProbability.of(6) == "0.1666666667")
        #expect(IPTablesProbability.of(7) == "0.1428571429")
    }
}
