import KubeProxyCore
import KubeProxyNFTables
import KubeProxyTesting
import Testing

@Suite struct NFTGoldenTests {
    /// spec §3.8: the six services rendered into an empty kernel give exactly upstream's table.
    @Test func sixServicesMatchUpstreamStructurally() throws {
        var driver = SyncDriver()
        try driver.sync(Fixture.sixServices())
        expectSameTable(driver.fake.table(.ip), try Fixture.table(Upstream.baseRules + Upstream.sixServices))
    }

    /// Large tables balance without sets; everything else is still upstream's table.
    @Test func sixServicesWithSetlessBalancingDifferOnlyInTheBalancingRules() throws {
        var options = Fixture.options()
        options.setlessBalancing = true
        var driver = SyncDriver(options: options)
        try driver.sync(Fixture.sixServices())
        let upstream = Upstream.withSetlessBalancing(Upstream.baseRules + Upstream.sixServices)
        #expect(upstream != Upstream.baseRules + Upstream.sixServices, "the fixture has balancing rules to translate")
        expectSameTable(driver.fake.table(.ip), try Fixture.table(upstream))
    }

    /// The balancing form follows the cluster's size, with a gap against flapping.
    @Test func balancingFormHasHysteresis() {
        typealias O = NFTRenderOptions
        #expect(!O.setlessBalancing(servicePorts: 1000, current: false))
        #expect(O.setlessBalancing(servicePorts: 1001, current: false))
        #expect(O.setlessBalancing(servicePorts: 900, current: true))
        #expect(!O.setlessBalancing(servicePorts: 800, current: true))
    }

    /// The transaction is deterministic: rendering twice gives the same text.
    @Test func transactionTextIsDeterministic() {
        let renderer = NFTRenderer(options: Fixture.options())
        let first = NFTKernelState(family: .ip).plan(renderer.render(Fixture.sixServices()), changed: [], full: true, now: .zero)
        let second = NFTKernelState(family: .ip).plan(renderer.render(Fixture.sixServices()), changed: [], full: true, now: .zero)
        #expect(first.main.text == second.main.text)
        #expect(first.cleanup.isEmpty)
    }

    /// The streamed text is `text`, cut only after whole lines.
    @Test(arguments: [1, 200, 1 << 16]) func streamedTextIsTheTextInWholeLines(chunkBytes: Int) {
        let renderer = NFTRenderer(options: Fixture.options())
        let main = NFTKernelState(family: .ip).plan(renderer.render(Fixture.sixServices()), changed: [], full: true, now: .zero).main
        var pieces: [String] = []
        main.writeText(chunkBytes: chunkBytes) { pieces.append($0) }
        #expect(pieces.joined() == main.text)
        #expect(pieces.allSatisfy { $0.hasSuffix("\n") && !$0.isEmpty })
        switch chunkBytes {
        case 1: #expect(pieces.count == main.count)
        case 200: #expect(pieces.count > 1 && pieces.count < main.count)
        default: #expect(pieces.count == 1)
        }
    }

    /// The rendered text reads back into the same operations (what the fake and nft see).
    @Test func transactionTextRoundTrips() throws {
        let renderer = NFTRenderer(options: Fixture.options())
        let plan = NFTKernelState(family: .ip).plan(renderer.render(Fixture.sixServices()), changed: [], full: true, now: .zero)
        #expect(try NFTTransaction(parsing: plan.main.text, family: .ip) == plan.main)
    }

    /// Upstream's no-local-endpoints gauge: svc2 (ETP Local, only a remote endpoint) counts.
    @Test func noLocalEndpointCounts() {
        let ruleset = NFTRenderer(options: Fixture.options()).render(Fixture.sixServices())
        #expect(ruleset.noLocalEndpointsExternal == 1)
        #expect(ruleset.noLocalEndpointsInternal == 0)
    }
}
