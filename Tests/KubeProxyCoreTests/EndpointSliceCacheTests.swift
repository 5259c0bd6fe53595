import KubeAPI
import KubeProxyCore
import Testing

@Suite("EndpointSliceCache")
struct EndpointSliceCacheTests {
    let svc1 = NamespacedName(namespace: "ns1", name: "svc1")
    let svc2 = NamespacedName(namespace: "ns1", name: "svc2")

    func addresses(_ cache: EndpointSliceCache, _ name: ServicePortName = TestObjects.portName()) -> [String] {
        (cache.endpoints(for: name.service)[name] ?? []).map(\.description)
    }

    @Test func mergesTheSlicesOfAServiceSorted() {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(TestObjects.slice("svc1-b", endpoints: [TestObjects.endpoint("10.180.0.3")]))
        let affected = cache.update(
            TestObjects.slice("svc1-a", endpoints: [TestObjects.endpoint("10.180.0.2"), TestObjects.endpoint("10.180.0.1")]))
        #expect(affected == [svc1])
        #expect(addresses(cache) == ["10.180.0.1:8080", "10.180.0.2:8080", "10.180.0.3:8080"])
        #expect(cache.services == [svc1])
    }

    struct IgnoredSlice: Sendable, CustomTestStringConvertible {
        var name: String
        var slice: EndpointSlice
        var testDescription: String { name }
    }

    @Test(arguments: [
        IgnoredSlice(
            name: "no service-name label", slice: TestObjects.slice(service: nil, endpoints: [TestObjects.endpoint("10.180.0.1")])),
        IgnoredSlice(
            name: "empty service-name label", slice: TestObjects.slice(service: "", endpoints: [TestObjects.endpoint("10.180.0.1")])),
        IgnoredSlice(
            name: "headless label",
            slice: TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1")], labels: [WellKnownLabels.headless: ""])),
        IgnoredSlice(
            name: "other address type", slice: TestObjects.slice(addressType: "IPv6", endpoints: [TestObjects.endpoint("2001:db8::1")])),
        IgnoredSlice(
            name: "FQDN address type", slice: TestObjects.slice(addressType: "FQDN", endpoints: [TestObjects.endpoint("a.example")])),
    ])
    func ignoresSlicesNotForThisProxy(_ testCase: IgnoredSlice) {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(testCase.slice)
        #expect(cache.services.isEmpty)
        #expect(cache.endpoints(for: svc1).isEmpty)
    }

    @Test func usesOnlyTheFirstAddressOfThisFamily() {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(
            TestObjects.slice(endpoints: [
                EndpointSliceEndpoint(addresses: ["10.180.0.1", "10.180.0.9"]),
                EndpointSliceEndpoint(addresses: []),
                EndpointSliceEndpoint(addresses: nil),
                EndpointSliceEndpoint(addresses: ["2001:db8::1", "10.180.0.8"]),
                EndpointSliceEndpoint(addresses: ["10.180.0.010"]),
            ]))
        #expect(addresses(cache) == ["10.180.0.1:8080", "10.180.0.10:8080"])
    }

    @Test func matchesPortsByNameAndProtocolAndSkipsUnusablePorts() {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(
            TestObjects.slice(
                endpoints: [TestObjects.endpoint("10.180.0.1")],
                ports: [
                    EndpointSlicePort(name: "dns", protocol: "UDP", port: 53),
                    EndpointSlicePort(name: "dns", protocol: "TCP", port: 5353),
                    EndpointSlicePort(name: "", port: 80),
                    EndpointSlicePort(name: nil, port: 81),
                    EndpointSlicePort(name: "zero", port: 0),
                    EndpointSlicePort(name: "none", port: nil),
                    EndpointSlicePort(name: "icmp", protocol: "ICMP", port: 1),
                ]))
        let ports = cache.endpoints(for: svc1).mapValues { $0.map(\.description) }
        #expect(
            ports == [
                TestObjects.portName("svc1", "dns", .udp): ["10.180.0.1:53"],
                TestObjects.portName("svc1", "dns", .tcp): ["10.180.0.1:5353"],
                TestObjects.portName("svc1", "", .tcp): ["10.180.0.1:80"],
            ])
    }

    @Test(
        arguments: [
            (nil, nil, nil, true, true, false),
            (false, nil, nil, false, true, false),
            (false, true, true, false, true, true),
            (false, false, true, false, false, true),
            (true, true, false, true, true, false),
        ] as [(Bool?, Bool?, Bool?, Bool, Bool, Bool)])
    func conditionDefaults(
        ready: Bool?, serving: Bool?, terminating: Bool?, isReady: Bool, isServing: Bool, isTerminating: Bool
    ) throws {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(
            TestObjects.slice(endpoints: [
                TestObjects.endpoint("10.180.0.1", ready: ready, serving: serving, terminating: terminating)
            ]))
        let endpoint = try #require(cache.endpoints(for: svc1)[TestObjects.portName()]?.first)
        #expect(endpoint.ready == isReady)
        #expect(endpoint.serving == isServing)
        #expect(endpoint.terminating == isTerminating)
    }

    @Test func carriesLocalityAndHints() throws {
        var cache = EndpointSliceCache(family: .ipv6)
        cache.update(
            TestObjects.slice(
                addressType: "IPv6",
                endpoints: [
                    TestObjects.endpoint(
                        "2001:db8::1", nodeName: "node-a", zone: "zone-a", zoneHints: ["zone-a", "zone-b"],
                        nodeHints: ["node-a"])
                ]))
        let endpoint = try #require(cache.endpoints(for: svc1)[TestObjects.portName()]?.first)
        #expect(
            endpoint
                == Endpoint(
                    ip: TestObjects.ip("2001:db8::1"), port: 8080, nodeName: "node-a", zone: "zone-a",
                    zoneHints: ["zone-a", "zone-b"], nodeHints: ["node-a"]))
        #expect(endpoint.description == "[2001:db8::1]:8080")
    }

    /// The terminating copy is in the slice that sorts first (`a`) or last (`b`).
    @Test(arguments: ["svc1-a", "svc1-b"])
    func duplicateAddressPrefersTheNonTerminatingCopy(terminatingSlice: String) throws {
        let otherSlice = terminatingSlice == "svc1-a" ? "svc1-b" : "svc1-a"
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(
            TestObjects.slice(
                terminatingSlice,
                endpoints: [TestObjects.endpoint("10.180.0.1", ready: false, serving: true, terminating: true)]))
        cache.update(TestObjects.slice(otherSlice, endpoints: [TestObjects.endpoint("10.180.0.1", nodeName: "n")]))
        let endpoints = try #require(cache.endpoints(for: svc1)[TestObjects.portName()])
        #expect(endpoints.count == 1)
        #expect(endpoints.first?.terminating == false)
        #expect(endpoints.first?.nodeName == "n")
    }

    @Test func aRelabelledSliceMovesBetweenServices() {
        var cache = EndpointSliceCache(family: .ipv4)
        cache.update(TestObjects.slice("shared", endpoints: [TestObjects.endpoint("10.180.0.1")]))
        let affected = cache.update(TestObjects.slice("shared", service: "svc2", endpoints: [TestObjects.endpoint("10.180.0.1")]))
        #expect(affected == [svc1, svc2])
        #expect(cache.endpoints(for: svc1).isEmpty)
        #expect(addresses(cache, TestObjects.portName("svc2")) == ["10.180.0.1:8080"])
        let unlabelled = cache.update(TestObjects.slice("shared", service: nil, endpoints: [TestObjects.endpoint("10.180.0.1")]))
        #expect(unlabelled == [svc2])
        #expect(cache.services.isEmpty)
    }

    @Test func removingASliceKeepsTheOthers() {
        var cache = EndpointSliceCache(family: .ipv4)
        let a = TestObjects.slice("svc1-a", endpoints: [TestObjects.endpoint("10.180.0.1")])
        cache.update(a)
        cache.update(TestObjects.slice("svc1-b", endpoints: [TestObjects.endpoint("10.180.0.2")]))
        #expect(cache.remove(a) == [svc1])
        #expect(addresses(cache) == ["10.180.0.2:8080"])
        #expect(cache.remove(a).isEmpty, "removing an unknown slice touches nothing")
    }

    @Test func legacyEndpointsAreOneMoreSourceOfTheService() throws {
        var cache = EndpointSliceCache(family: .ipv4)
        let legacy = Endpoints(
            metadata: ObjectMeta(name: "svc1", namespace: "ns1"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "10.180.0.1", nodeName: "node-a"), EndpointSubsetAddress(ip: "2001:db8::1")],
                    notReadyAddresses: [EndpointSubsetAddress(ip: "10.180.0.2")],
                    ports: [EndpointSubsetPort(name: "p80", port: 8080), EndpointSubsetPort(name: "bad", port: 0)])
            ])
        #expect(EndpointSliceCache.key(of: legacy) == NamespacedName(namespace: "ns1", name: "endpoints:svc1"))
        #expect(cache.update(legacy) == [svc1])
        cache.update(TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.3")]))
        let endpoints = try #require(cache.endpoints(for: svc1)[TestObjects.portName()])
        #expect(
            endpoints == [
                Endpoint(ip: TestObjects.ip("10.180.0.1"), port: 8080, nodeName: "node-a"),
                Endpoint(ip: TestObjects.ip("10.180.0.2"), port: 8080, ready: false, serving: false),
                Endpoint(ip: TestObjects.ip("10.180.0.3"), port: 8080),
            ])
        #expect(cache.endpoints(for: svc1).count == 1)
        cache.remove(legacy)
        #expect(addresses(cache) == ["10.180.0.3:8080"])
    }
}
