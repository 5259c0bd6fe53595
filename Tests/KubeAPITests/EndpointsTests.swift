import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@Suite struct EndpointsTests {
    @Test func decodesEveryFieldOfTheUpstreamFixture() throws {
        let endpoints = try Fixtures.decode(Endpoints.self, from: "core.v1.Endpoints.json")
        let subset = try #require(endpoints.subsets?.first)
        #expect(subset.addresses?.first?.ip == "ipValue")
        #expect(subset.addresses?.first?.nodeName == "nodeNameValue")
        #expect(subset.notReadyAddresses?.first?.targetRef?.kind == "kindValue")
        #expect(
            subset.ports == [
                EndpointSubsetPort(
                    name: "nameValue", port: 2, protocol: "protocolValue", appProtocol: "appProtocolValue")
            ])
    }

    @Test func roundTripsEveryModelledField() throws {
        try RoundTrip.check(
            Endpoints.self, Fixtures.data("core.v1.Endpoints.json"), unmodelled: ["metadata.managedFields"])
    }
}
