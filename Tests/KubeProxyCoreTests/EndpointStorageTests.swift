import KubeAPI
import Testing

@testable import KubeProxyCore

/// The compact storage of `Endpoint` and `EndpointAddress` (conditions in one byte, a 32-bit
/// port, shared locality boxes): the public properties must read back what was set, and
/// equality must not depend on which box an endpoint points at.
@Suite("Endpoint storage")
struct EndpointStorageTests {
    let ip = IPAddress("10.180.0.1")!

    @Test func layoutStaysCompact() {
        // 100k endpoints at 10k Services: each byte here is about 100 KB of the cache.
        #expect(MemoryLayout<Endpoint>.size <= 32)
        #expect(MemoryLayout<EndpointAddress>.size <= 24)
    }

    @Test(arguments: [
        (true, true, false), (false, false, false), (false, true, true), (true, false, true), (true, true, true),
    ])
    func conditionsReadBackAsGiven(_ ready: Bool, _ serving: Bool, _ terminating: Bool) {
        let endpoint = Endpoint(ip: ip, port: 8080, ready: ready, serving: serving, terminating: terminating)
        #expect(endpoint.ready == ready)
        #expect(endpoint.serving == serving)
        #expect(endpoint.terminating == terminating)
    }

    @Test func everySetterChangesOnlyItsField() {
        var endpoint = Endpoint(ip: ip, port: 8080)
        endpoint.ready = false
        endpoint.terminating = true
        #expect(endpoint.serving && !endpoint.ready && endpoint.terminating)
        endpoint.serving = false
        #expect(!endpoint.serving && !endpoint.ready && endpoint.terminating)
        endpoint.port = 65535
        endpoint.nodeName = "node-a"
        endpoint.zone = "zone-1"
        endpoint.zoneHints = ["zone-1", "zone-2"]
        endpoint.nodeHints = ["node-a"]
        #expect(endpoint.port == 65535)
        #expect(endpoint.nodeName == "node-a")
        #expect(endpoint.zone == "zone-1")
        #expect(endpoint.zoneHints == ["zone-1", "zone-2"])
        #expect(endpoint.nodeHints == ["node-a"])
        endpoint.nodeName = nil
        #expect(endpoint.nodeName == nil && endpoint.zone == "zone-1" && endpoint.nodeHints == ["node-a"])
        #expect(
            endpoint
                == Endpoint(
                    ip: ip, port: 65535, ready: false, serving: false, terminating: true, zone: "zone-1",
                    zoneHints: ["zone-1", "zone-2"], nodeHints: ["node-a"]))
    }

    @Test func clearingEveryLocalityFieldEqualsNeverSettingOne() {
        var endpoint = Endpoint(ip: ip, port: 80, nodeName: "node-a", zone: "z", zoneHints: ["z"], nodeHints: ["n"])
        endpoint.nodeName = nil
        endpoint.zone = nil
        endpoint.zoneHints = []
        endpoint.nodeHints = []
        let plain = Endpoint(ip: ip, port: 80)
        #expect(endpoint == plain)
        #expect(Set([endpoint, plain]).count == 1)
    }

    @Test func equalityAndHashIgnoreBoxSharing() {
        var interner = Endpoint.LocalityInterner()
        let shared = interner.box(nodeName: "node-a", zone: "z", zoneHints: [], nodeHints: [])
        let a = Endpoint(ip: ip, port: 80, ready: true, serving: true, terminating: false, locality: shared)
        let b = Endpoint(ip: ip, port: 80, nodeName: "node-a", zone: "z")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != Endpoint(ip: ip, port: 80, nodeName: "node-b", zone: "z"))
    }

    @Test func internerSharesEqualBoxesAndMakesNoneForEmptyFields() throws {
        var interner = Endpoint.LocalityInterner()
        #expect(interner.box(nodeName: nil, zone: nil, zoneHints: [], nodeHints: []) == nil)
        let first = interner.box(nodeName: "node-a", zone: nil, zoneHints: [], nodeHints: [])
        let second = interner.box(nodeName: "node-a", zone: nil, zoneHints: [], nodeHints: [])
        let other = interner.box(nodeName: "node-b", zone: nil, zoneHints: [], nodeHints: [])
        try #require(first != nil && other != nil)
        #expect(first === second)
        #expect(first !== other)
    }

    @Test(arguments: [0, 1, 8080, 65535, 70000, -1, Int(Int32.max)])
    func portsOfTheAPIRangeReadBack(_ port: Int) {
        #expect(Endpoint(ip: ip, port: port).port == port)
        #expect(EndpointAddress(ip: ip, port: port).port == port)
        var address = EndpointAddress(ip: ip, port: 1)
        address.port = port
        #expect(address.port == port)
    }

    @Test func portsBeyondInt32AreClampedAndStayInvalid() {
        let huge = Endpoint(ip: ip, port: Int(Int32.max) + 10)
        #expect(huge.port == Int(Int32.max))
        #expect(!(1...PortRange.maximumPort).contains(huge.port))
        #expect(EndpointAddress(ip: ip, port: Int.min).port == Int(Int32.min))
    }

    @Test func addressOrderAndTextAreUnchanged() {
        let v6 = IPAddress("2001:db8::1")!
        #expect(EndpointAddress(ip: v6, port: 443).description == "[2001:db8::1]:443")
        #expect(EndpointAddress(ip: ip, port: 80) < EndpointAddress(ip: ip, port: 81))
        #expect(EndpointAddress(ip: ip, port: 90) < EndpointAddress(ip: IPAddress("10.180.0.2")!, port: 80))
        #expect(Endpoint(ip: ip, port: 80).address == EndpointAddress(ip: ip, port: 80))
    }
}

/// The cache's per-source storage (a list of ports, shared locality boxes).
@Suite("EndpointSliceCache storage")
struct EndpointSliceCacheStorageTests {
    let svc1 = NamespacedName(namespace: "ns1", name: "svc1")

    @Test func everyPortOfASliceGetsTheSameEndpointsWithItsOwnNumber() {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(
            TestObjects.slice(
                endpoints: [
                    TestObjects.endpoint("10.180.0.2", nodeName: "node-a", zone: "z1"),
                    TestObjects.endpoint("10.180.0.1", ready: false, nodeName: "node-a", zone: "z1"),
                ],
                ports: [
                    EndpointSlicePort(name: "p80", protocol: "TCP", port: 8080),
                    EndpointSlicePort(name: "dns", protocol: "UDP", port: 53),
                ]))
        let lists = cache.endpoints(for: svc1)
        #expect(lists.count == 2)
        let tcp = lists[TestObjects.portName()] ?? []
        let udp = lists[TestObjects.portName("svc1", "dns", .udp)] ?? []
        #expect(tcp.map(\.description) == ["10.180.0.1:8080", "10.180.0.2:8080"])
        #expect(udp.map(\.description) == ["10.180.0.1:53", "10.180.0.2:53"])
        #expect(tcp.map(\.ready) == [false, true])
        #expect(udp.allSatisfy { $0.nodeName == "node-a" && $0.zone == "z1" })
    }

    @Test func aRepeatedPortNameInASliceKeepsTheLastNumber() {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(
            TestObjects.slice(
                endpoints: [TestObjects.endpoint("10.180.0.1")],
                ports: [
                    EndpointSlicePort(name: "p80", protocol: "TCP", port: 8080),
                    EndpointSlicePort(name: "p80", protocol: "TCP", port: 9090),
                ]))
        #expect(cache.endpoints(for: svc1)[TestObjects.portName()]?.map(\.description) == ["10.180.0.1:9090"])
    }

    @Test func aRepeatedPortNameInLegacyEndpointsCollectsEverySubset() {
        var cache = EndpointSliceCache(family: .ipv4)
        let legacy = Endpoints(
            metadata: ObjectMeta(name: "svc1", namespace: "ns1"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "10.180.0.2", nodeName: "node-a")],
                    ports: [EndpointSubsetPort(name: "p80", port: 8080, protocol: "TCP")]),
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "10.180.0.1")],
                    notReadyAddresses: [EndpointSubsetAddress(ip: "10.180.0.3", nodeName: "node-a")],
                    ports: [EndpointSubsetPort(name: "p80", port: 8080, protocol: "TCP")]),
            ])
        cache.update(legacy)
        let list = cache.endpoints(for: svc1)[TestObjects.portName()] ?? []
        #expect(list.map(\.description) == ["10.180.0.1:8080", "10.180.0.2:8080", "10.180.0.3:8080"])
        #expect(list.map(\.nodeName) == [nil, "node-a", "node-a"])
        #expect(list.map(\.ready) == [true, true, false])
    }

    @Test func slicesOfOneServiceComeAndGoIndependently() {
        var cache = EndpointSliceCache(family: .ipv4)
        let a = TestObjects.slice("svc1-a", endpoints: [TestObjects.endpoint("10.180.0.1")])
        let b = TestObjects.slice("svc1-b", endpoints: [TestObjects.endpoint("10.180.0.2")])
        cache.update(a)
        cache.update(b)
        cache.update(a)
        #expect(cache.endpoints(for: svc1)[TestObjects.portName()]?.count == 2)
        cache.remove(a)
        #expect(cache.endpoints(for: svc1)[TestObjects.portName()]?.map(\.description) == ["10.180.0.2:8080"])
        cache.remove(b)
        #expect(cache.services.isEmpty)
        #expect(cache.endpoints(for: svc1).isEmpty)
    }
}
