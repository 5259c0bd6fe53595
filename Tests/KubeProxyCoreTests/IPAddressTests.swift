import KubeProxyCore
import Testing

struct IPAddressTests {
    @Test(arguments: [
        ("10.96.0.10", "10.96.0.10"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("172.30.0.041", "172.30.0.41"), (" 10.0.0.1 ", "10.0.0.1"), ("::", "::"), ("::1", "::1"),
        ("2001:DB8::0:1", "2001:db8::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("fe80::1%eth0", "fe80::1"), ("::ffff:10.0.0.1", "::ffff:a00:1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func parsesAndNormalises(_ text: String, _ normalised: String) throws {
        let ip = try #require(IPAddress(text))
        #expect(ip.description == normalised)
        #expect(IPAddress(ip.description) == ip)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.4a", "a.b.c.d", "1.2.3.1000",
        ":::", "1:2:3:4:5:6:7:8:9", "12345::", "1::2::3", "g::1", "10.0.0.0/8",
    ])
    func rejectsWhatIsNotAnAddress(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func familiesFlagsAndBrackets() throws {
        let v4 = try #require(IPAddress("127.0.0.1"))
        let v6 = try #require(IPAddress("::1"))
        #expect(v4.family == .ipv4 && v6.family == .ipv6)
        #expect(v4.isLoopback && v6.isLoopback)
        #expect(IPAddress("0.0.0.0")?.isUnspecified == true && IPAddress("::")?.isUnspecified == true)
        #expect(v6.bracketedDescription == "[::1]" && v4.bracketedDescription == "127.0.0.1")
        #expect(v4.bytes == [127, 0, 0, 1])
        #expect(v4 < v6)
    }

    @Test(arguments: [
        ("10.1.2.3/8", "10.0.0.0/8", "10.200.0.1", true), ("203.0.113.000/025", "203.0.113.0/25", "203.0.113.200", false),
        (" 192.168.0.0/16", "192.168.0.0/16", "192.168.9.9", true), ("2001:db8::1/32", "2001:db8::/32", "2001:db8:ffff::1", true),
        ("0.0.0.0/0", "0.0.0.0/0", "1.2.3.4", true),
    ])
    func cidrsParseNormaliseAndMatch(_ text: String, _ normalised: String, _ probe: String, _ inside: Bool) throws {
        let cidr = try #require(CIDR(text))
        #expect(cidr.description == normalised)
        #expect(cidr.contains(try #require(IPAddress(probe))) == inside)
    }

    @Test(arguments: ["10.0.0.0", "10.0.0.0/33", "x/8", "::/129"])
    func cidrsRejectNonsense(_ text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func servicePortNamesPrintLikeUpstreamComments() {
        #expect(ServicePortName(namespace: "ns1", name: "svc1", port: "p80").description == "ns1/svc1:p80")
        #expect(ServicePortName(namespace: "ns1", name: "svc1", port: "").description == "ns1/svc1")
        #expect(EndpointAddress(ip: IPAddress("fd00::5")!, port: 80).description == "[fd00::5]:80")
    }
}
