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
        #expect(store.objects.count == 4)
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

    @Test func upsertAndDeleteCarryTheLastDeliveredState() {
        var store = ObjectStore<Service>()
        #expect(store.upsert(service("a", rv: "1")) == [.added(service("a", rv: "1"))])
        #expect(store.upsert(service("a", rv: "1")).isEmpty)
        #expect(
            store.upsert(service("a", rv: "2", port: 81)) == [.updated(old: service("a", rv: "1"), new: service("a", rv: "2", port: 81))])
        #expect(store.delete(service("a", rv: "3")) == [.deleted(service("a", rv: "2", port: 81))])
        #expect(store.delete(service("a", rv: "3")).isEmpty)
    }
}
