import KubeProxyCore
import KubeProxyNFTables
import Testing

@Suite struct NFTChainNamesTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: ServicePortName
        var endpoint: EndpointAddress?
        var expected: String
        var testDescription: String { expected }
    }

    static func v(_ ns: String, _ svc: String, _ port: String, _ ip: String? = nil, _ epPort: Int = 80, _ expected: String) -> Vector {
        Vector(
            name: ServicePortName(namespace: ns, name: svc, port: port),
            endpoint: ip.map { EndpointAddress(ip: IPAddress($0)!, port: epPort) }, expected: expected)
    }

    /// Hashes verified in spec §3.3 and upstream's expected rulesets.
    @Test(arguments: [
        v("testing", "service", "http", nil, 80, "P4ZYZVCF-testing/service/tcp/http"),
        v("ns1", "svc1", "p80", nil, 80, "ULMVA6XW-ns1/svc1/tcp/p80"),
        v("ns2", "svc2", "p80", nil, 80, "42NFTM6N-ns2/svc2/tcp/p80"),
        v("ns3", "svc3", "p80", nil, 80, "4AT6LBPK-ns3/svc3/tcp/p80"),
        v("ns4", "svc4", "p80", nil, 80, "LAUZTJTB-ns4/svc4/tcp/p80"),
        v("ns5", "svc5", "p80", nil, 80, "HVFWP5L3-ns5/svc5/tcp/p80"),
        v("ns2", "svc2", "p8080", nil, 80, "MHHHYRWA-ns2/svc2/tcp/p8080"),
        v("ns1", "svc1", "p80", "10.180.0.1", 80, "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"),
        v("ns2", "svc2", "p80", "10.180.0.2", 80, "SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80"),
        v("ns4", "svc4", "p80", "10.180.0.4", 80, "UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80"),
        v("ns4", "svc4", "p80", "10.180.0.5", 80, "5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80"),
        v("ns5", "svc5", "p80", "10.180.0.3", 80, "GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"),
        v("ns2", "svc2", "p8080", "10.0.2.1", 8080, "7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080"),
    ])
    func upstreamHashes(_ vector: Vector) {
        let name = vector.endpoint.map { NFTChainNames.endpointBase(vector.name, $0) } ?? NFTChainNames.base(vector.name)
        #expect(name == vector.expected)
    }

    /// IPv6 colons become dots. (Upstream's vector U7E2ET36 hashes the raw text
    /// `fd80:abcd:12::a1b2:…`, which compresses a single zero group; addresses here are always
    /// printed RFC 5952 style, as Go prints them, so the vector is checked on the text.)
    @Test func ipv6EndpointsUseDots() {
        #expect(ChainHash.prefix(of: "testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80", length: 8) == "U7E2ET36")
        let name = ServicePortName(namespace: "testing", name: "service", port: "http")
        let base = NFTChainNames.endpointBase(name, EndpointAddress(ip: IPAddress("fd80:abcd::a1b2:0:9999")!, port: 80))
        #expect(base.hasSuffix("-testing/service/tcp/http__fd80.abcd..a1b2.0.9999/80"))
        #expect(!base.contains(":"))
    }

    @Test func protocolIsLowerCaseInTheName() {
        let name = ServicePortName(namespace: "ns", name: "dns", port: "dns", protocol: .udp)
        #expect(NFTChainNames.base(name).hasSuffix("-ns/dns/udp/dns"))
    }

    /// Names longer than 240 characters keep the hash of the full name and end in `...`.
    @Test func longNamesAreCutTo240() {
        let long = String(repeating: "a", count: 63)
        let name = ServicePortName(namespace: long, name: long, port: long)
        let endpoint = EndpointAddress(ip: IPAddress("fd00:1111:2222:3333:4444:5555:6666:7777")!, port: 65535)
        let base = NFTChainNames.endpointBase(name, endpoint)
        #expect(base.count == 240)
        #expect(base.hasSuffix("..."))
        #expect(
            base.prefix(9) == ChainHash.prefix(of: "\(long)/\(long)/tcp/\(long)__fd00.1111.2222.3333.4444.5555.6666.7777/65535", length: 8)
                + "-")
        #expect(NFTChainNames.base(name).count == 8 + 1 + 63 * 3 + 3 + 3)
    }

    @Test func serviceChainsAreThoseWithASlash() {
        #expect(NFTChainNames.isServiceChain("endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"))
        #expect(!NFTChainNames.isServiceChain("filter-input"))
        #expect(NFTChainNames.isAffinitySet("affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"))
        #expect(!NFTChainNames.isAffinitySet("cluster-ips"))
    }
}
