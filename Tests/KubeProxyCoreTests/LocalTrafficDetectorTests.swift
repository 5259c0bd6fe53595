import KubeProxyCore
import Testing

@Suite("LocalTrafficDetector and NodePortAddresses")
struct LocalTrafficDetectorTests {
    @Test func clusterCIDRPicksThePrefixOfTheFamily() throws {
        let both = "10.0.0.0/8, fd00:10::/64"
        #expect(try LocalTrafficDetector.make(mode: "", clusterCIDR: both, family: .ipv4) == .cidr(CIDR("10.0.0.0/8")!))
        #expect(
            try LocalTrafficDetector.make(mode: "ClusterCIDR", clusterCIDR: both, family: .ipv6) == .cidr(CIDR("fd00:10::/64")!))
        #expect(try LocalTrafficDetector.make(mode: "ClusterCIDR", clusterCIDR: "10.0.0.0/8", family: .ipv6) == .none)
        #expect(try LocalTrafficDetector.make(mode: "", clusterCIDR: "", family: .ipv4) == .none)
    }

    @Test func otherModes() throws {
        #expect(
            try LocalTrafficDetector.make(mode: "NodeCIDR", clusterCIDR: "", nodePodCIDRs: ["10.244.1.0/24"], family: .ipv4)
                == .cidr(CIDR("10.244.1.0/24")!))
        #expect(
            try LocalTrafficDetector.make(mode: "BridgeInterface", clusterCIDR: "", bridgeInterface: "cbr0", family: .ipv4)
                == .bridgeInterface("cbr0"))
        #expect(
            try LocalTrafficDetector.make(
                mode: "InterfaceNamePrefix", clusterCIDR: "", interfaceNamePrefix: "veth", family: .ipv6)
                == .interfaceNamePrefix("veth"))
    }

    @Test func problemsNameTheFlag() {
        #expect(throws: LocalTrafficDetector.Problem.self) {
            try LocalTrafficDetector.make(mode: "Magic", clusterCIDR: "", family: .ipv4)
        }
        do {
            _ = try LocalTrafficDetector.make(mode: "BridgeInterface", clusterCIDR: "", family: .ipv4)
            Issue.record("expected a problem")
        } catch {
            #expect(error.field.contains("--pod-bridge-interface"))
        }
        do {
            _ = try LocalTrafficDetector.make(mode: "ClusterCIDR", clusterCIDR: "10.0.0.0/33", family: .ipv4)
            Issue.record("expected a problem")
        } catch {
            #expect(error.field.contains("--cluster-cidr"))
            #expect(error.message.contains("10.0.0.0/33"))
        }
    }

    @Test func nodePortAddresses() {
        let local: Set<IPAddress> = [IPAddress("192.168.0.2")!, IPAddress("192.168.1.2")!, IPAddress("127.0.0.1")!]
        let primary = [IPAddress("192.168.0.2")!]
        let all = NodePortAddresses([], family: .ipv4)
        #expect(all.matchesAll)
        let v6Only = NodePortAddresses(["2001:db8::1/128"], family: .ipv4)
        #expect(v6Only.matchesAll, "entries of the other family do not restrict this one")
        let byCIDR = NodePortAddresses(["192.168.0.0/24"], family: .ipv4)
        #expect(!byCIDR.matchesAll)
        #expect(byCIDR.addresses(local: local, primary: primary) == [IPAddress("192.168.0.2")!])
        let byPrimary = NodePortAddresses(["primary"], family: .ipv4)
        #expect(byPrimary.addresses(local: local, primary: primary) == primary)
        let withLoopback = NodePortAddresses(["localhost", "192.168.1.0/24"], family: .ipv4)
        #expect(withLoopback.addresses(local: local, primary: primary) == [IPAddress("127.0.0.1")!, IPAddress("192.168.1.2")!])
    }
}
