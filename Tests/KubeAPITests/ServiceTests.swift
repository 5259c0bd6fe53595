import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@Suite struct ServiceTests {
    @Test func decodesEveryFieldOfTheUpstreamFixture() throws {
        let service = try Fixtures.decode(Service.self, from: "core.v1.Service.json")
        #expect(service.kind == "Service")
        #expect(service.metadata.name == "nameValue")
        #expect(service.metadata.creationTimestamp == "2008-01-01T01:01:01Z")
        #expect(service.metadata.ownerReferences?.first?.blockOwnerDeletion == true)
        let spec = try #require(service.spec)
        #expect(
            spec.ports == [
                ServicePortSpec(
                    name: "nameValue", protocol: "protocolValue", appProtocol: "appProtocolValue", port: 3,
                    targetPort: .string("targetPortValue"), nodePort: 5)
            ])
        #expect(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds == 1)
        #expect(spec.trafficDistribution == "trafficDistributionValue")
        #expect(spec.healthCheckNodePort == 12)
        let ingress = try #require(service.status?.loadBalancer?.ingress?.first)
        #expect(ingress.ipMode == "ipModeValue")
        #expect(ingress.ports == [PortStatus(port: 1, protocol: "protocolValue", error: "errorValue")])
        #expect(service.status?.conditions?.first?.observedGeneration == 3)
    }

    @Test func roundTripsEveryModelledField() throws {
        try RoundTrip.check(
            Service.self, Fixtures.data("core.v1.Service.json"), unmodelled: ["metadata.managedFields"])
    }

    @Test func toleratesUnknownFieldsAndUnknownEnumValues() throws {
        let json = """
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","futureField":{"x":1}},
             "spec":{"type":"SomeFutureType","ports":[{"port":80,"newThing":true}],"newSpecField":[1,2]},
             "status":{"surprise":"yes"}}
            """
        let service = try JSONDecoder().decode(Service.self, from: Data(json.utf8))
        #expect(service.spec?.type == "SomeFutureType")
        #expect(service.spec?.ports?.first?.port == 80)
        #expect(service.status == ServiceStatus())
    }

    @Test func absentFieldsStayAbsentWhenEncoded() throws {
        let service = Service(metadata: ObjectMeta(name: "web", namespace: "default"))
        let encoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(service))
        #expect(
            encoded
                == .object([
                    "apiVersion": .string("v1"), "kind": .string("Service"),
                    "metadata": .object(["name": .string("web"), "namespace": .string("default")]),
                ]))
    }

    @Test func rejectsAWrongTypeNamingTheField() throws {
        let json = #"{"metadata":{"name":"web"},"spec":{"ports":[{"port":"eighty"}]}}"#
        #expect {
            try JSONDecoder().decode(Service.self, from: Data(json.utf8))
        } throws: { error in
            guard case DecodingError.typeMismatch(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["spec", "ports", "Index 0", "port"]
        }
    }
}
