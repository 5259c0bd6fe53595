import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import KubeProxyTesting
import Testing

/// The fake refuses what nft 1.0.6 refuses (each case checked against the real tool; the root
/// suite `NFTRealKernelTests` replays the rendered transactions on it).
@Suite struct FakeNFTablesTests {
    static let base = """
        add table ip kube-proxy
        add chain ip kube-proxy services
        add chain ip kube-proxy target
        add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
        add set ip kube-proxy cluster-ips { type ipv4_addr ; }
        add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto target }
        add rule ip kube-proxy services ip daddr @cluster-ips jump target
        """

    func fake() throws -> FakeNFTables {
        let fake = FakeNFTables()
        try fake.apply(text: Self.base)
        return fake
    }

    @Test(arguments: [
        ("add rule ip kube-proxy services goto nothere", "jump to a missing chain"),
        ("add chain ip kube-proxy a\nadd rule ip kube-proxy a goto b\nadd chain ip kube-proxy b", "forward reference"),
        ("add rule ip kube-proxy services ip daddr @nothere drop", "missing set"),
        ("add element ip kube-proxy nomap { 1.1.1.1 }", "element into a missing set"),
        ("add element ip kube-proxy service-ips { 1.1.1.1 . tcp : drop }", "arity"),
        ("add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 }", "map element without value"),
        ("add element ip kube-proxy cluster-ips { fd00::1 }", "address of the other family"),
        ("add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 : goto nothere }", "verdict to a missing chain"),
        ("add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : drop }", "existing key, other value"),
        ("delete element ip kube-proxy cluster-ips { 9.9.9.9 }", "missing element"),
        ("delete chain ip kube-proxy services", "non-empty chain"),
        ("delete chain ip kube-proxy target", "chain still referenced"),
        ("flush chain ip kube-proxy zz", "flush missing chain"),
        ("delete chain ip kube-proxy zz", "delete missing chain"),
        ("delete set ip kube-proxy cluster-ips", "set still referenced"),
        ("add chain ip kube-proxy services { type nat hook output priority -100 ; }", "hook change"),
        ("add rule ip6 kube-proxy services drop", "table of another family does not exist"),
    ])
    func rejectsWhatNftRejects(_ text: String, _ why: String) throws {
        let fake = try fake()
        let before = fake.table(.ip)
        #expect(throws: HostError.self, "\(why)") { try fake.apply(text: text) }
        #expect(fake.table(.ip) == before, "a failing transaction changes nothing (\(why))")
    }

    @Test func acceptsWhatNftAccepts() throws {
        let fake = try fake()
        try fake.apply(
            text: """
                add element ip kube-proxy cluster-ips { 172.30.0.41 }
                add element ip kube-proxy cluster-ips { 172.30.0.41 }
                add chain ip kube-proxy services
                delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }
                flush chain ip kube-proxy services
                delete chain ip kube-proxy target
                delete set ip kube-proxy cluster-ips
                """)
        let table = try #require(fake.table(.ip))
        #expect(table.chains["target"] == nil)
        #expect(table.sets["cluster-ips"] == nil)
        #expect(table.elements(of: "service-ips") == [])
        #expect(fake.transactions.map(\.count) == [7, 7])
    }

    /// The listing reads back through the same parser as nft's own JSON.
    @Test func listingParsesIntoKernelState() async throws {
        let fake = try fake()
        let json = try #require(try await fake.listTable(family: .ipv4, name: "kube-proxy"))
        let state = try NFTKernelState(parsingJSON: json, family: .ip)
        #expect(state.tableExists)
        #expect(state.chains["services"]?.ruleCount == 1)
        #expect(state.chains["services"]?.digest == nil)
        #expect(state.sets["service-ips"]?.elements == ["172.30.0.41 . tcp . 80": "goto target"])
        #expect(try await fake.listTable(family: .ipv6, name: "kube-proxy") == nil)
        #expect(try await fake.deleteTable(family: .ipv4, name: "kube-proxy"))
        #expect(try await fake.deleteTable(family: .ipv4, name: "kube-proxy") == false)
    }
}
