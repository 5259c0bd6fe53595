import KubeProxyNFTables
import Testing

/// The memory-saving representations (packed chain rules, chain groups in a transaction) must
/// be invisible: the same rules, the same operations in the same order, the same text.
@Suite struct NFTCompactStorageTests {
    static let service = "service-X-ns1/svc1/tcp/p80"
    static let endpoint = "endpoint-Y-ns1/svc1/tcp/p80__10.0.1.1/80"

    /// Rules come back exactly as given, comments (also empty ones) and empty bodies included.
    @Test func packedRulesReadBackAsGiven() {
        let rules = [
            NFTRule(chain: Self.service, "ip daddr 172.30.0.41 tcp dport 80 jump mark-for-masquerade"),
            NFTRule(chain: Self.service, "fib saddr type local goto x", comment: "short-circuit local traffic"),
            NFTRule(chain: Self.service, "goto y", comment: ""),
            NFTRule(chain: Self.service, ""),
            NFTRule(chain: Self.service, "numgen random mod 2 vmap { 0 : goto a , 1 : goto b }", comment: "ns1/svc1:p80 é"),
            NFTRule(chain: Self.service, "numgen random mod 10 0 goto endpoint-ABCDEFGH-ns1/svc1/tcp/p80__10.0.1.1/80"),
            NFTRule(chain: Self.service, "ip saddr 10.0.1.1 jump mark-for-masquerade ip saddr ip6 daddr "),
            NFTRule(chain: Self.service, "meta l4proto tcp dnat to 10.0.1.1:80", comment: "ip saddr  dnat to "),
            NFTRule(chain: Self.service, "goto endpoint- 0 goto endpoint-ip6 saddr x", comment: nil),
            NFTRule(chain: Self.service, "ip sadd", comment: "ip6 daddr"),
        ]
        let content = NFTChainContent(NFTChain(name: Self.service), rules: rules)
        #expect(content.rules == rules)
        #expect(content.ruleCount == rules.count)
        #expect(content.digest == NFTDigest.of(rules))
        #expect(content == NFTChainContent(NFTChain(name: Self.service), rules: rules))
        #expect(content != NFTChainContent(NFTChain(name: Self.service), rules: Array(rules.dropLast())))
    }

    /// Rules the packing could not tell apart again (a newline or the separator in their text,
    /// another chain's name) are kept unchanged.
    @Test func unpackableRulesAreKeptAsTheyAre() {
        let odd = [
            NFTRule(chain: Self.service, "goto a\ngoto b"),
            NFTRule(chain: Self.service, "goto c", comment: "x\u{1}y"),
            NFTRule(chain: Self.service, "goto \u{10}\u{11} ip saddr \t"),
            NFTRule(chain: "elsewhere", "goto d"),
        ]
        for rule in odd {
            let rules = [NFTRule(chain: Self.service, "goto e"), rule]
            #expect(NFTChainContent(NFTChain(name: Self.service), rules: rules).rules == rules)
        }
    }

    /// A chain group expands to `add chain` for every chain of its service ports but the
    /// skipped ones, then `flush chain` and the rules of each: the operations, count and text of
    /// the same transaction built one by one.
    @Test func chainGroupsExpandInPlace() {
        let ports = NFTRenderer(options: Fixture.options()).render(Fixture.sixServices()).sortedServicePorts
        let skipped = Set(ports.flatMap(\.chains).filter(\.isEndpoint).prefix(2).map(\.name))
        let written = ports.flatMap(\.chains).filter { !skipped.contains($0.name) }
        #expect(skipped.count == 2 && written.count > 6)

        var grouped = NFTTransaction(family: .ip)
        grouped.append(.addTable(comment: "rules for kube-proxy"))
        grouped.appendChains(of: ports, skipping: skipped)
        grouped.appendChains(of: [])
        grouped.append(.flushChain("services"))

        var single = NFTTransaction(family: .ip)
        single.append(.addTable(comment: "rules for kube-proxy"))
        for chain in written { single.append(.addChain(chain.chain)) }
        for chain in written {
            single.append(.flushChain(chain.name))
            single.append(contentsOf: chain.rules.map(NFTOperation.addRule))
        }
        single.append(.flushChain("services"))

        #expect(grouped.count == single.operations.count)
        #expect(grouped.operations == single.operations)
        #expect(grouped == single)
        #expect(grouped.hashValue == single.hashValue)
        #expect(grouped.text == single.text)
        var pieces: [String] = []
        grouped.writeText(chunkBytes: 1) { pieces.append($0) }
        #expect(pieces.count == single.count)
        #expect(pieces.joined() == single.text)

        var state = NFTKernelState(family: .ip)
        state.apply(grouped)
        #expect(state.chains.count == written.count)
        #expect(written.allSatisfy { state.chains[$0.name]?.digest == $0.digest })
        #expect(state.totalRules == written.reduce(0) { $0 + $1.ruleCount })
    }

    /// Applying a transaction sizes the chain table once for the chains it adds; re-declaring
    /// chains the table has (every full sync after the first, a restart) does not grow it.
    @Test func redeclaredChainsDoNotGrowTheChainTable() {
        let ports = NFTRenderer(options: Fixture.options()).render(Fixture.sixServices()).sortedServicePorts
        var tx = NFTTransaction(family: .ip)
        tx.append(.addTable(comment: nil))
        tx.appendChains(of: ports)
        var state = NFTKernelState(family: .ip)
        state.apply(tx)
        let capacity = state.chains.capacity
        #expect(state.chains.count == ports.reduce(0) { $0 + $1.chains.count })
        state.apply(tx)
        state.apply(tx)
        #expect(state.chains.capacity == capacity)
    }
}
