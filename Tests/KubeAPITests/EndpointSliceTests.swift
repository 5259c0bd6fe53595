import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@Suite struct EndpointSliceTests {
    @Test func decodesEveryFieldOfTheUpstreamFixture() throws {
        let slice = try Fixtures.decode(EndpointSlice.self, from: "discovery.k8s.io.v1.EndpointSlice.json")
        #expect(slice.apiVersion == "discovery.k8s.io/v1")
        #expect(slice.addressType == "addressTypeValue")
        let endpoint = try #require(slice.endpoints?.first)
        #expect(endpoint.addresses == ["addressesValue"])
        #expect(endpoint.conditions == EndpointConditions(ready: true, serving: true, terminating: true))
        #expect(endpoint.deprecatedTopology == ["deprecatedTopologyKey": "deprecatedTopologyValue"])
        #expect(
            endpoint.hints
                == EndpointHints(forZones: [ForZone(name: "nameValue")], forNodes: [ForNode(name: "nameValue")]))
        #expect(endpoint.targetRef?.fieldPath == "fieldPathValue")
        #expect(
            slice.ports == [
                EndpointSlicePort(
                    name: "nameValue", protocol: "protocolValue", port: 3, appProtocol: "appProtocolValue")
            ])
    }

    @Test func roundTripsEveryModelledField() throws {
        try RoundTrip.check(
            EndpointSlice.self, Fixtures.data("discovery.k8s.io.v1.EndpointSlice.json"),
            unmodelled: ["metadata.managedFields"])
    }

    @Test func absentConditionsStayUnknown() throws {
        let json =
            #"{"metadata":{"name":"s"},"addressType":"IPv4","endpoints":[{"addresses":["192.0.2.1"],"conditions":{}}]}"#
        let slice = try JSONDecoder().decode(EndpointSlice.self, from: Data(json.utf8))
        #expect(slice.endpoints?.first?.conditions == EndpointConditions(ready: nil, serving: nil, terminating: nil))
        #expect(slice.ports == nil)
    }
}
