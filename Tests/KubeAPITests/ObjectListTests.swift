import Foundation
import KubeAPI
import Testing

@Suite struct ObjectListTests {
    @Test func decodesAListResponseWithItsResourceVersion() throws {
        let json = """
            {"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"1234","continue":"tok"},
             "items":[{"metadata":{"name":"a","namespace":"default"}},{"metadata":{"name":"b","namespace":"kube-system"}}]}
            """
        let list = try JSONDecoder().decode(ObjectList<Service>.self, from: Data(json.utf8))
        #expect(list.metadata?.resourceVersion == "1234")
        #expect(list.metadata?.continue == "tok")
        #expect(list.items.map(\.metadata.name) == ["a", "b"])
    }

    @Test(arguments: [#"{"kind":"ServiceList","items":null}"#, #"{"kind":"ServiceList"}"#])
    func nullOrMissingItemsMeanEmpty(json: String) throws {
        let list = try JSONDecoder().decode(ObjectList<Service>.self, from: Data(json.utf8))
        #expect(list.items.isEmpty)
    }

    @Test func roundTrips() throws {
        let json =
            #"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"n"},"spec":{"podCIDRs":["10.0.0.0/24"]}}]}"#
        try RoundTrip.check(ObjectList<Node>.self, Data(json.utf8))
    }
}
