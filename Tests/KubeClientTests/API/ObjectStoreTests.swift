import Foundation
import KubeAPI
import Testing

@testable import KubeClient

@Suite struct ObjectStoreTests {
    @Test func replaceEmitsAdditionsUpdatesThenDeletionsInKeyOrder() {
        var store = ObjectStore<Service>()
        _ = store.replace(with: [service("b", rv: "1"), service("c", rv: "1"), service("a", rv: "1")])
        let changes = store.replace(with: [
            service("d", rv: "5"), service("a", rv: "1"), service("b", rv: "4", port: 81), service("a", namespace: "x", rv: "6"),
        ])
        #expect(changes.summaries == ["updated default/b 1→4", "added default/d", "added x/a", "deleted default/c"])
        #expect(store.entries.count == 4)
    }

    @Test func sameVersionMeansUnchangedEvenIfTheBytesDiffer() {
        var store = ObjectStore<Service>()
        _ = store.replace(with: [service("a", rv: "1", port: 80)])
        #expect(store.replace(with: [service("a", rv: "1", port: 81)]).isEmpty)
    }

    @Test func withoutVersionsContentDecides() {
        var store = ObjectStore<Service>()
        _ = store.replace(with: [service("a", rv: "", port: 80)])
        #expect(store.replace(with: [service("a", rv: "", port: 80)]).isEmpty)
        #expect(store.replace(with: [service("a", rv: "", port: 81)]).count == 1)
    }

    @Test func upsertAndDeleteCarryTheLastDeliveredIdentity() {
        var store = ObjectStore<Service>()
        #expect(store.upsert(service("a", rv: "1")) == [.added(service("a", rv: "1"))])
        #expect(store.upsert(service("a", rv: "1")).isEmpty)
        #expect(
            store.upsert(service("a", rv: "2", port: 81)) == [
                .updated(old: placeholder("a", rv: "1"), new: service("a", rv: "2", port: 81))
            ])
        #expect(store.delete(service("a", rv: "3")) == [.deleted(placeholder("a", rv: "2"))])
        #expect(store.delete(service("a", rv: "3")).isEmpty)
    }

    @Test func relistFromTheCompactStoreKeepsTheDiffSemantics() {
        var store = ObjectStore<EndpointSlice>()
        let first = [slice("a", rv: "1", uid: "u-a"), slice("b", rv: "1", uid: "u-b"), slice("c", rv: "2", uid: "u-c")]
        #expect(store.replace(with: first).count == 3)
        // a unchanged (no event), b updated (new object, old as placeholder), c gone, d new.
        let changes = store.replace(with: [
            slice("d", rv: "9", uid: "u-d"), slice("b", rv: "7", uid: "u-b", endpoints: 3), slice("a", rv: "1", uid: "u-a"),
        ])
        #expect(
            changes == [
                .updated(
                    old: EndpointSlice(metadata: ObjectMeta(name: "b", namespace: "default", uid: "u-b", resourceVersion: "1")),
                    new: slice("b", rv: "7", uid: "u-b", endpoints: 3)),
                .added(slice("d", rv: "9", uid: "u-d")),
                .deleted(EndpointSlice(metadata: ObjectMeta(name: "c", namespace: "default", uid: "u-c", resourceVersion: "2"))),
            ])
        // The placeholder has no labels or endpoints: only its identity.
        #expect(changes.first?.old?.endpoints == nil)
        #expect(store.entries.keys.sorted() == ["default/a", "default/b", "default/d"])
        #expect(store.entries["default/b"]?.resourceVersion == "7")
        // The same LIST again changes nothing.
        #expect(
            store.replace(with: [
                slice("d", rv: "9", uid: "u-d"), slice("b", rv: "7", uid: "u-b", endpoints: 3), slice("a", rv: "1", uid: "u-a"),
            ]).isEmpty)
    }

    @Test func withoutVersionsTheDigestDecidesForWatchEventsToo() {
        var store = ObjectStore<EndpointSlice>()
        _ = store.upsert(slice("a", rv: "", uid: "u"))
        #expect(store.upsert(slice("a", rv: "", uid: "u")).isEmpty)
        #expect(store.upsert(slice("a", rv: "", uid: "u", endpoints: 4)).count == 1)
        #expect(store.replace(with: [slice("a", rv: "", uid: "u", endpoints: 4)]).isEmpty)
        #expect(store.replace(with: [slice("a", rv: "", uid: "u", endpoints: 5)]).count == 1)
    }

    @Test func decodedListsAreCompactedToTheirSize() throws {
        let json = try JSONEncoder().encode(slice("a", rv: "1", uid: "u", endpoints: 10))
        let decoded = try JSONDecoder().decode(EndpointSlice.self, from: json)
        let compacted = decoded.compacted()
        #expect(compacted == decoded)
        let endpoints = try #require(compacted.endpoints)
        #expect(endpoints.capacity < 16)
        #expect(endpoints.capacity >= 10)
    }

    private func placeholder(_ name: String, rv: String) -> Service {
        Service(metadata: ObjectMeta(name: name, namespace: "default", resourceVersion: rv))
    }

    private func slice(_ name: String, rv: String, uid: String, endpoints: Int = 2) -> EndpointSlice {
        EndpointSlice(
            metadata: ObjectMeta(
                name: name, namespace: "default", uid: uid, resourceVersion: rv,
                labels: ["kubernetes.io/service-name": name]),
            addressType: "IPv4",
            endpoints: (0..<endpoints).map { EndpointSliceEndpoint(addresses: ["10.0.0.\($0 + 1)"]) })
    }
}
