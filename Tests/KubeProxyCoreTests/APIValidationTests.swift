import KubeAPI
import KubeProxyCore
import Testing

@Suite("APIValidation")
struct APIValidationTests {
    /// An object and the (field, reason) pairs validation must report for it, in order.
    struct Case<Object: Sendable>: Sendable, CustomTestStringConvertible {
        var name: String
        var object: Object
        var expected: [Expectation]
        var testDescription: String { name }
    }

    struct Expectation: Sendable, Equatable, CustomStringConvertible {
        var field: String
        var reason: String
        var description: String { "\(field) \(reason)" }
    }

    static func invalid(_ field: String) -> Expectation { Expectation(field: field, reason: "FieldValueInvalid") }
    static func required(_ field: String) -> Expectation { Expectation(field: field, reason: "FieldValueRequired") }
    static func notSupported(_ field: String) -> Expectation {
        Expectation(field: field, reason: "FieldValueNotSupported")
    }
    static func duplicate(_ field: String) -> Expectation { Expectation(field: field, reason: "FieldValueDuplicate") }

    static func serviceCase(
        _ name: String, ports: [ServicePortSpec]? = nil, expect: [Expectation],
        _ configure: @escaping (inout ServiceSpec) -> Void = { _ in }
    ) -> Case<Service> {
        let service =
            ports.map { TestObjects.service(ports: $0, configure: configure) }
            ?? TestObjects.service(configure: configure)
        return Case(name: name, object: service, expected: expect)
    }

    static let serviceCases: [Case<Service>] = [
        serviceCase("a minimal ClusterIP Service is valid", expect: []),
        serviceCase("leading zeros and padded CIDRs are accepted as upstream does", expect: []) {
            $0.clusterIP = "172.30.0.041"
            $0.externalIPs = ["192.0.2.010"]
            $0.loadBalancerSourceRanges = [" 203.0.113.0/25", "203.0.113.000/025"]
        },
        serviceCase("dual-stack cluster IPs are valid", expect: []) {
            $0.clusterIPs = ["172.30.0.41", "fd00:10:96::1"]
            $0.ipFamilies = ["IPv4", "IPv6"]
        },
        serviceCase("a headless Service may have no ports", ports: [], expect: []) { $0.clusterIP = "None" },
        serviceCase("an ExternalName Service may have no ports", ports: [], expect: []) {
            $0.type = "ExternalName"
            $0.clusterIP = nil
        },
        serviceCase(
            "ClientIP affinity with a timeout, UDP and SCTP, named target port are valid",
            ports: [
                ServicePortSpec(name: "dns", protocol: "UDP", port: 53, targetPort: .string("dns-udp")),
                ServicePortSpec(name: "sctp", protocol: "SCTP", port: 53, targetPort: .int(5353)),
            ], expect: []
        ) {
            $0.sessionAffinity = "ClientIP"
            $0.sessionAffinityConfig = SessionAffinityConfig(clientIP: ClientIPConfig(timeoutSeconds: 86400))
        },
        serviceCase("port 0", ports: [ServicePortSpec(name: "p", port: 0)], expect: [invalid("spec.ports[0].port")]),
        serviceCase("port 70000", ports: [ServicePortSpec(name: "p", port: 70000)], expect: [invalid("spec.ports[0].port")]),
        serviceCase("missing port", ports: [ServicePortSpec(name: "p")], expect: [required("spec.ports[0].port")]),
        serviceCase(
            "unsupported protocol", ports: [ServicePortSpec(name: "p", protocol: "HTTP", port: 80)],
            expect: [notSupported("spec.ports[0].protocol")]),
        serviceCase(
            "second of two ports unnamed",
            ports: [ServicePortSpec(name: "a", port: 80), ServicePortSpec(port: 81)],
            expect: [required("spec.ports[1].name")]),
        serviceCase(
            "duplicate port names",
            ports: [ServicePortSpec(name: "a", port: 80), ServicePortSpec(name: "a", protocol: "UDP", port: 81)],
            expect: [duplicate("spec.ports[1].name")]),
        serviceCase(
            "same port and protocol twice",
            ports: [ServicePortSpec(name: "a", port: 80), ServicePortSpec(name: "b", protocol: "TCP", port: 80)],
            expect: [duplicate("spec.ports[1]")]),
        serviceCase(
            "port name not a DNS label", ports: [ServicePortSpec(name: "Web_Port", port: 80)],
            expect: [invalid("spec.ports[0].name")]),
        serviceCase(
            "negative node port", ports: [ServicePortSpec(name: "p", port: 80, nodePort: -1)],
            expect: [invalid("spec.ports[0].nodePort")]),
        serviceCase(
            "target port 0", ports: [ServicePortSpec(name: "p", port: 80, targetPort: .int(0))],
            expect: [invalid("spec.ports[0].targetPort")]),
        serviceCase(
            "numeric string target port", ports: [ServicePortSpec(name: "p", port: 80, targetPort: .string("8080"))],
            expect: [invalid("spec.ports[0].targetPort")]),
        serviceCase("bad cluster IP", expect: [invalid("spec.clusterIP")]) { $0.clusterIP = "172.30.0.300" },
        serviceCase("two cluster IPs of one family", expect: [invalid("spec.clusterIPs[1]")]) {
            $0.clusterIPs = ["172.30.0.41", "172.30.0.42"]
        },
        serviceCase("clusterIPs[0] differs from clusterIP", expect: [invalid("spec.clusterIPs[0]")]) {
            $0.clusterIPs = ["172.30.0.42"]
        },
        serviceCase("external IP not an IP", expect: [invalid("spec.externalIPs[1]")]) {
            $0.externalIPs = ["192.0.2.1", "example.com"]
        },
        serviceCase("loopback external IP", expect: [invalid("spec.externalIPs[0]")]) { $0.externalIPs = ["127.0.0.1"] },
        serviceCase("unspecified external IP", expect: [invalid("spec.externalIPs[0]")]) { $0.externalIPs = ["::"] },
        serviceCase("bad source range", expect: [invalid("spec.loadBalancerSourceRanges[0]")]) {
            $0.loadBalancerSourceRanges = ["203.0.113.0/33"]
        },
        serviceCase("unknown session affinity", expect: [notSupported("spec.sessionAffinity")]) {
            $0.sessionAffinity = "Sticky"
        },
        serviceCase("affinity timeout 0", expect: [invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds")]) {
            $0.sessionAffinity = "ClientIP"
            $0.sessionAffinityConfig = SessionAffinityConfig(clientIP: ClientIPConfig(timeoutSeconds: 0))
        },
        serviceCase("affinity timeout above a day", expect: [invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds")]) {
            $0.sessionAffinity = "ClientIP"
            $0.sessionAffinityConfig = SessionAffinityConfig(clientIP: ClientIPConfig(timeoutSeconds: 86401))
        },
        serviceCase(
            "unknown traffic policies",
            expect: [
                notSupported("spec.externalTrafficPolicy"), notSupported("spec.internalTrafficPolicy"),
            ]
        ) {
            $0.externalTrafficPolicy = "Everywhere"
            $0.internalTrafficPolicy = "Nowhere"
        },
        serviceCase("health check node port out of range", expect: [invalid("spec.healthCheckNodePort")]) {
            $0.healthCheckNodePort = 70000
        },
        serviceCase("unknown type", expect: [notSupported("spec.type")]) { $0.type = "Internal" },
        serviceCase("no ports on a ClusterIP Service", ports: [], expect: [required("spec.ports")]),
        serviceCase("unknown IP family", expect: [notSupported("spec.ipFamilies[0]")]) { $0.ipFamilies = ["IPv5"] },
        Case(
            name: "no name", object: Service(metadata: ObjectMeta(namespace: "ns1"), spec: TestObjects.service().spec),
            expected: [required("metadata.name")]),
        Case(name: "bad name", object: TestObjects.service("Svc_1"), expected: [invalid("metadata.name")]),
        Case(name: "bad namespace", object: TestObjects.service(namespace: "NS"), expected: [invalid("metadata.namespace")]),
        Case(
            name: "no spec", object: Service(metadata: ObjectMeta(name: "svc1", namespace: "ns1")),
            expected: [required("spec")]),
        Case(
            name: "bad load-balancer ingress",
            object: TestObjects.service(
                status: ServiceStatus(
                    loadBalancer: LoadBalancerStatus(ingress: [
                        LoadBalancerIngress(ip: "192.0.2.1"), LoadBalancerIngress(ip: "lb", ipMode: "Magic"),
                    ]))),
            expected: [invalid("status.loadBalancer.ingress[1].ip"), notSupported("status.loadBalancer.ingress[1].ipMode")]
        ),
    ]

    @Test(arguments: serviceCases)
    func validatesService(_ testCase: Case<Service>) {
        let causes = APIValidation.validate(testCase.object)
        #expect(causes.map { Expectation(field: $0.field ?? "", reason: $0.reason ?? "") } == testCase.expected)
    }

    @Test func messagesReadLikeTheAPIServers() {
        let portCause = APIValidation.validate(
            TestObjects.service(ports: [ServicePortSpec(name: "p", protocol: "HTTP", port: 70000)]))
        #expect(
            portCause.map(\.description) == [
                #"spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
                "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ])
        let ipCause = APIValidation.validate(TestObjects.service(configure: { $0.externalIPs = ["bad"] }))
        #expect(
            ipCause.first?.message
                == #"Invalid value: "bad": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#)
    }

    static let sliceCases: [Case<EndpointSlice>] = [
        Case(
            name: "a valid slice",
            object: TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1"), TestObjects.endpoint("10.180.0.2")]),
            expected: []),
        Case(
            name: "an FQDN slice is not checked for IPs",
            object: TestObjects.slice(addressType: "FQDN", endpoints: [TestObjects.endpoint("db.example.com")]),
            expected: []),
        Case(
            name: "a port with nil name and nil port is allowed",
            object: TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1")], ports: [EndpointSlicePort()]),
            expected: []),
        Case(
            name: "missing address type",
            object: EndpointSlice(metadata: ObjectMeta(name: "s", namespace: "ns1")),
            expected: [required("addressType")]),
        Case(
            name: "unknown address type",
            object: TestObjects.slice(addressType: "IPv7", endpoints: []),
            expected: [notSupported("addressType")]),
        Case(
            name: "endpoint without addresses",
            object: TestObjects.slice(endpoints: [EndpointSliceEndpoint(addresses: [])]),
            expected: [required("endpoints[0].addresses")]),
        Case(
            name: "malformed address",
            object: TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1"), TestObjects.endpoint("10.180.0.300")]),
            expected: [invalid("endpoints[1].addresses[0]")]),
        Case(
            name: "address of the other family",
            object: TestObjects.slice(endpoints: [TestObjects.endpoint("2001:db8::1")]),
            expected: [invalid("endpoints[0].addresses[0]")]),
        Case(
            name: "bad ports",
            object: TestObjects.slice(
                endpoints: [],
                ports: [
                    EndpointSlicePort(name: "a", port: 0), EndpointSlicePort(name: "a", protocol: "ICMP", port: 70000),
                ]),
            expected: [invalid("ports[0].port"), duplicate("ports[1].name"), notSupported("ports[1].protocol"), invalid("ports[1].port")]),
        Case(
            name: "bad slice name",
            object: TestObjects.slice("Slice!", endpoints: []),
            expected: [invalid("metadata.name")]),
    ]

    @Test(arguments: sliceCases)
    func endpointSlice(_ testCase: Case<EndpointSlice>) {
        let causes = APIValidation.validate(testCase.object)
        #expect(causes.map { Expectation(field: $0.field ?? "", reason: $0.reason ?? "") } == testCase.expected)
    }

    static func legacy(_ subsets: [EndpointSubset]) -> Endpoints {
        Endpoints(metadata: ObjectMeta(name: "svc1", namespace: "ns1"), subsets: subsets)
    }

    static let endpointsCases: [Case<Endpoints>] = [
        Case(
            name: "valid Endpoints",
            object: legacy([
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "10.180.0.1")],
                    notReadyAddresses: [EndpointSubsetAddress(ip: "10.180.0.2")],
                    ports: [EndpointSubsetPort(name: "p80", port: 8080, protocol: "TCP")])
            ]),
            expected: []),
        Case(
            name: "bad addresses",
            object: legacy([
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "nope")],
                    notReadyAddresses: [EndpointSubsetAddress()],
                    ports: [EndpointSubsetPort(port: 8080)])
            ]),
            expected: [invalid("subsets[0].addresses[0].ip"), required("subsets[0].notReadyAddresses[0].ip")]),
        Case(
            name: "bad ports",
            object: legacy([
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "10.180.0.1")],
                    ports: [EndpointSubsetPort(name: "a"), EndpointSubsetPort(port: 8080, protocol: "ICMP")])
            ]),
            expected: [
                required("subsets[0].ports[0].port"), required("subsets[0].ports[1].name"),
                notSupported("subsets[0].ports[1].protocol"),
            ]),
    ]

    @Test(arguments: endpointsCases)
    func legacyEndpoints(_ testCase: Case<Endpoints>) {
        let causes = APIValidation.validate(testCase.object)
        #expect(causes.map { Expectation(field: $0.field ?? "", reason: $0.reason ?? "") } == testCase.expected)
    }
}
