import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@Suite struct WatchEventTests {
    @Test func decodesTheCustomResourceFixtureAsJSONValue() throws {
        let event = try Fixtures.decode(WatchEvent<JSONValue>.self, from: "core.v1.WatchEvent.json")
        #expect(event.type == "typeValue")
        #expect(event.object["kind"] == .string("CustomType"))
        #expect(event.object["spec"]?["replicas"] == .int(1))
    }

    @Test func roundTripsTheWholeEnvelope() throws {
        try RoundTrip.check(WatchEvent<JSONValue>.self, Fixtures.data("core.v1.WatchEvent.json"))
    }

    @Test func decodesATypedServiceEvent() throws {
        let line =
            #"{"type":"MODIFIED","object":{"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"default","resourceVersion":"42"}}}"#
        let event = try JSONDecoder().decode(WatchEvent<Service>.self, from: Data(line.utf8))
        #expect(event.type == "MODIFIED")
        #expect(event.object.metadata.resourceVersion == "42")
    }
}
