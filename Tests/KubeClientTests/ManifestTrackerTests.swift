import KubeAPI
import Synchronization
import Testing

@testable import KubeClient

@Suite struct ManifestTrackerTests {
    static func signature(_ version: Int64) -> FileSignature {
        FileSignature(device: 1, inode: 7, size: 100, modifiedNanoseconds: version, changedNanoseconds: version)
    }

    static func service(_ name: String, port: Int = 80) -> ManifestObject {
        .service(
            Service(
                metadata: ObjectMeta(name: name, namespace: "default"),
                spec: ServiceSpec(ports: [ServicePortSpec(port: port)])))
    }

    static func slice(_ name: String) -> ManifestObject {
        .endpointSlice(EndpointSlice(metadata: ObjectMeta(name: name, namespace: "default"), addressType: "IPv4"))
    }

    static func endpoints(_ name: String) -> ManifestObject {
        .endpoints(Endpoints(metadata: ObjectMeta(name: name, namespace: "default")))
    }

    static func load(_ version: Int64, _ objects: [ManifestObject], errors: [ManifestError] = [])
        -> ManifestTracker.FileLoad
    {
        let loaded = objects.enumerated().map { LoadedObject(document: $0.offset + 1, object: $0.element) }
        return .decoded(
            signature(version), hash: UInt64(version), ManifestFileContents(objects: loaded, errors: errors),
            reload: { loaded })
    }

    static func brokenError(_ file: String) -> ManifestError {
        ManifestError(reason: .syntax, file: file, document: 1, message: "line 1, column 1: bad")
    }

    @Test func initialLoadReadsEverythingAndAddsServicesFirst() {
        var tracker = ManifestTracker()
        let plan = tracker.plan(listing: ["m/b.yaml": Self.signature(1), "m/a.yaml": Self.signature(1)], initial: true)
        #expect(plan == .init(read: ["m/a.yaml", "m/b.yaml"], removed: []))
        let update = tracker.apply(loads: [
            "m/a.yaml": Self.load(1, [Self.endpoints("web"), Self.slice("web-1")]),
            "m/b.yaml": Self.load(1, [Self.service("web"), Self.service("api")]),
        ])
        #expect(
            update.events.map(\.summary) == [
                "added Service default/api", "added Service default/web", "added EndpointSlice default/web-1",
                "added Endpoints default/web",
            ])
        #expect(update.newErrors.isEmpty)
    }

    @Test func pendingWorkLastsUntilChangesSettleAndDeletionsAreConfirmed() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])
        #expect(!tracker.hasPending)

        _ = tracker.plan(listing: ["f": Self.signature(2)])  // changed, not settled yet
        #expect(tracker.hasPending)
        let plan = tracker.plan(listing: ["f": Self.signature(2)])
        _ = tracker.apply(loads: ["f": Self.load(2, [Self.service("web", port: 81)])])
        #expect(plan.read == ["f"])
        #expect(!tracker.hasPending)

        _ = tracker.plan(listing: [:])  // missing once: not yet gone
        #expect(tracker.hasPending)
        let gone = tracker.plan(listing: [:])
        _ = tracker.apply(loads: [:], removed: gone.removed)
        #expect(gone.removed == ["f"])
        #expect(!tracker.hasPending)
    }

    @Test func aChangedFileIsReadOnceItsSignatureIsStable() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])
        #expect(tracker.plan(listing: ["f": Self.signature(1)]).read == [])
        #expect(tracker.plan(listing: ["f": Self.signature(2)]).read == [])
        #expect(tracker.plan(listing: ["f": Self.signature(3)]).read == [])
        #expect(tracker.plan(listing: ["f": Self.signature(3)]).read == ["f"])
    }

    @Test func aFileInotifyCallsCompleteIsReadOnTheFirstListingThatSeesIt() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": .unchanged(Self.signature(1))])
        #expect(tracker.plan(listing: ["f": Self.signature(2), "g": Self.signature(1)], complete: ["f", "g"]).read == ["f", "g"])
        // A file not named complete still waits for its signature to hold still.
        #expect(tracker.plan(listing: ["f": Self.signature(3)], complete: ["g"]).read == [])
        #expect(tracker.plan(listing: ["f": Self.signature(3)]).read == ["f"])
    }

    @Test func listingsLessThanAPollApartDoNotSettleAFile() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": .unchanged(Self.signature(1))])
        #expect(tracker.plan(listing: ["f": Self.signature(2)], settle: false).read == [])
        // The same signature a wake-up later: the writer may only be pausing.
        #expect(tracker.plan(listing: ["f": Self.signature(2)], settle: false).read == [])
        #expect(tracker.plan(listing: ["f": Self.signature(2)]).read == ["f"])
    }

    @Test func aNewFileIsReadOnTheSecondPoll() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: [:], initial: true)
        #expect(tracker.plan(listing: ["f": Self.signature(1)]).read == [])
        #expect(tracker.plan(listing: ["f": Self.signature(1)]).read == ["f"])
    }

    @Test func aFileIsRemovedOnlyWhenMissingTwice() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web"), Self.slice("web-1")])])
        #expect(tracker.plan(listing: [:]).removed == [])
        // Back again (an editor's rename window): nothing happens.
        #expect(tracker.plan(listing: ["f": Self.signature(1)]) == .init(read: [], removed: []))
        #expect(tracker.plan(listing: [:]).removed == [])
        let plan = tracker.plan(listing: [:])
        #expect(plan.removed == ["f"])
        let update = tracker.apply(loads: [:], removed: plan.removed)
        #expect(update.events.map(\.summary) == ["deleted EndpointSlice default/web-1", "deleted Service default/web"])
        #expect(tracker.objects.isEmpty)
    }

    @Test func unchangedObjectsEmitNothingAndChangedOnesAnUpdate() {
        var tracker = ManifestTracker()
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("a"), Self.service("b")])])
        let update = tracker.apply(loads: ["f": Self.load(2, [Self.service("a"), Self.service("b", port: 81)])])
        #expect(
            update.events == [
                .service(
                    .updated(
                        // The tracker keeps no objects: `old` is the last delivered identity.
                        old: Service(metadata: ObjectMeta(name: "b", namespace: "default")),
                        new: Service(
                            metadata: ObjectMeta(name: "b", namespace: "default"),
                            spec: ServiceSpec(ports: [ServicePortSpec(port: 81)]))))
            ])
    }

    @Test func aBrokenFileKeepsItsLastGoodObjectsUntilFixed() {
        var tracker = ManifestTracker()
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])

        let broken = tracker.apply(loads: ["f": Self.load(2, [], errors: [Self.brokenError("f")])])
        #expect(broken.events.isEmpty)
        #expect(broken.newErrors == [Self.brokenError("f")])
        #expect(tracker.objects.keys.map(\.description) == ["Service default/web"])
        #expect(tracker.errors == [Self.brokenError("f")])

        let stillBroken = tracker.apply(loads: ["f": Self.load(3, [], errors: [Self.brokenError("f")])])
        #expect(stillBroken.newErrors.isEmpty)

        let fixed = tracker.apply(loads: ["f": Self.load(4, [Self.service("web"), Self.service("api")])])
        #expect(fixed.events.map(\.summary) == ["added Service default/api"])
        #expect(fixed.recovered == ["f"])
        #expect(tracker.errors.isEmpty)
    }

    @Test func aFileBrokenFromTheStartContributesNothing() {
        var tracker = ManifestTracker()
        let update = tracker.apply(loads: [
            "a": Self.load(1, [], errors: [Self.brokenError("a")]), "b": Self.load(1, [Self.service("web")]),
        ])
        #expect(update.events.map(\.summary) == ["added Service default/web"])
        #expect(update.newErrors == [Self.brokenError("a")])
    }

    @Test func theFirstFileWinsAndTheOtherTakesOverWhenItLetsGo() {
        var tracker = ManifestTracker()
        let first = tracker.apply(loads: [
            "m/b.yaml": Self.load(1, [Self.slice("x"), Self.service("web", port: 81)]),
            "m/a.yaml": Self.load(1, [Self.service("web", port: 80)]),
        ])
        #expect(first.events.map(\.summary) == ["added Service default/web", "added EndpointSlice default/x"])
        #expect(tracker.objects[Self.service("web").key] == Self.service("web", port: 80))
        #expect(
            first.newErrors.map(\.description) == [
                "m/b.yaml: document 2 (Service default/web): already defined in m/a.yaml; this definition is ignored"
            ])

        let takeover = tracker.apply(loads: ["m/a.yaml": Self.load(2, [])])
        #expect(takeover.events.map(\.summary) == ["updated Service default/web"])
        #expect(tracker.objects[Self.service("web").key] == Self.service("web", port: 81))
        #expect(takeover.recovered == ["m/b.yaml"])
        #expect(tracker.errors.isEmpty)
    }

    @Test func onlyATakeoverFromAFileNotReadInThePollReloadsItAndOldIsAPlaceholder() {
        let reloads = Mutex(0)
        func load(_ version: Int64, _ objects: [ManifestObject]) -> ManifestTracker.FileLoad {
            let loaded = objects.enumerated().map { LoadedObject(document: $0.offset + 1, object: $0.element) }
            return .decoded(
                Self.signature(version), hash: UInt64(version), ManifestFileContents(objects: loaded),
                reload: {
                    reloads.withLock { $0 += 1 }
                    return loaded
                })
        }
        var tracker = ManifestTracker()
        _ = tracker.apply(loads: [
            "m/a.yaml": load(1, [Self.service("web", port: 80)]),
            "m/b.yaml": load(1, [Self.service("web", port: 81), Self.service("api")]),
        ])
        // Objects decoded in the poll need no reload, with or without duplicates around.
        let edit = tracker.apply(loads: ["m/b.yaml": load(2, [Self.service("web", port: 81), Self.service("api", port: 82)])])
        #expect(edit.events == [.service(.updated(old: Self.placeholder("api"), new: Self.serviceValue("api", port: 82)))])
        #expect(reloads.withLock { $0 } == 0)

        let takeover = tracker.apply(loads: ["m/a.yaml": load(2, [])])
        #expect(takeover.events == [.service(.updated(old: Self.placeholder("web"), new: Self.serviceValue("web", port: 81)))])
        #expect(reloads.withLock { $0 } == 1)

        let removal = tracker.apply(loads: [:], removed: ["m/b.yaml"])
        #expect(removal.events == [.service(.deleted(Self.placeholder("api"))), .service(.deleted(Self.placeholder("web")))])
        #expect(reloads.withLock { $0 } == 1)
    }

    @Test func aTakeoverFromAFileChangedSinceItWasAppliedWaitsForItsNextRead() {
        var tracker = ManifestTracker()
        // b.yaml's reload finds other bytes on disk now (an edit in progress).
        let changedSince = ManifestTracker.FileLoad.decoded(
            Self.signature(1), hash: 1,
            ManifestFileContents(objects: [LoadedObject(document: 1, object: Self.service("web", port: 81))]),
            reload: { nil })
        _ = tracker.apply(loads: ["m/a.yaml": Self.load(1, [Self.service("web", port: 80)]), "m/b.yaml": changedSince])
        let takeover = tracker.apply(loads: ["m/a.yaml": Self.load(2, [])])
        #expect(takeover.events.isEmpty)
        #expect(tracker.objectCount == 1)

        let read = tracker.apply(loads: ["m/b.yaml": Self.load(2, [Self.service("web", port: 82)])])
        #expect(read.events == [.service(.updated(old: Self.placeholder("web"), new: Self.serviceValue("web", port: 82)))])
        #expect(tracker.objects[Self.service("web").key] == Self.service("web", port: 82))
    }

    static func placeholder(_ name: String) -> Service {
        Service(metadata: ObjectMeta(name: name, namespace: "default"))
    }

    static func serviceValue(_ name: String, port: Int) -> Service {
        guard case .service(let service) = Self.service(name, port: port) else { fatalError("a Service") }
        return service
    }

    @Test func anUnreadableFileKeepsItsObjectsAndIsDecodedAgainOnceReadable() {
        var tracker = ManifestTracker()
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])
        #expect(tracker.hash(of: "f") == 1)
        let unreadable = tracker.apply(loads: ["f": .unreadable(message: "Permission denied")])
        #expect(unreadable.events.isEmpty)
        #expect(unreadable.newErrors.map(\.description) == ["f: cannot read: Permission denied"])
        #expect(tracker.hash(of: "f") == nil)
        #expect(tracker.objects.count == 1)
        let readable = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])
        #expect(readable.recovered == ["f"])
        #expect(readable.events.isEmpty)
    }

    @Test func aRefusedFileKeepsItsObjectsIsReportedOnceAndIsNotDueUntilItChanges() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])
        let tooLarge = ManifestError(reason: .limitExceeded, file: "f", message: "file is 2000 bytes, too large")
        _ = tracker.plan(listing: ["f": Self.signature(2)])
        #expect(tracker.plan(listing: ["f": Self.signature(2)]).read == ["f"])
        let refused = tracker.apply(loads: ["f": .refused(Self.signature(2), tooLarge)])
        #expect(refused.events.isEmpty)
        #expect(refused.newErrors == [tooLarge])
        #expect(tracker.objects.count == 1)
        #expect(tracker.plan(listing: ["f": Self.signature(2)]).read == [])
        // A rehash looks again (by size only, in the poller) and reports nothing new.
        #expect(tracker.plan(listing: ["f": Self.signature(2)], rehash: true).read == ["f"])
        #expect(tracker.apply(loads: ["f": .refused(Self.signature(2), tooLarge)]).newErrors.isEmpty)
        #expect(tracker.hash(of: "f") == nil)
    }

    @Test func anIdlePollChangesNothingAndSaysSo() {
        var tracker = ManifestTracker()
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")], errors: [])])
        _ = tracker.apply(loads: ["g": Self.load(1, [], errors: [Self.brokenError("g")])])
        let idle = tracker.apply(loads: [:])
        #expect(idle.isIdle && idle.events.isEmpty && idle.newErrors.isEmpty)
        #expect(tracker.errors == [Self.brokenError("g")])
        #expect(tracker.objects.count == 1)
        #expect(!tracker.apply(loads: [:], removed: ["g"]).isIdle)
        #expect(tracker.errors.isEmpty)
    }

    @Test func unchangedContentOnlyRefreshesTheSignature() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": Self.load(1, [Self.service("web")])])
        _ = tracker.plan(listing: ["f": Self.signature(2)])
        #expect(tracker.plan(listing: ["f": Self.signature(2)]).read == ["f"])
        #expect(tracker.apply(loads: ["f": .unchanged(Self.signature(2))]).events.isEmpty)
        #expect(tracker.plan(listing: ["f": Self.signature(2)]).read == [])
    }

    @Test func rehashReadsSettledFilesRegardless() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["f": Self.signature(1), "g": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: ["f": Self.load(1, []), "g": Self.load(1, [])])
        #expect(tracker.plan(listing: ["f": Self.signature(1), "g": Self.signature(2)], rehash: true).read == ["f"])
    }

    @Test func diffEmitsAdditionsServicesFirstThenDeletionsServicesLast() {
        let old = Dictionary(
            uniqueKeysWithValues: [Self.service("old"), Self.slice("old-1"), Self.endpoints("old")].map { ($0.key, $0) }
        )
        let new = Dictionary(
            uniqueKeysWithValues: [Self.endpoints("new"), Self.slice("new-1"), Self.service("new")].map { ($0.key, $0) }
        )
        #expect(
            ManifestTracker.diff(from: old, to: new).map(\.summary) == [
                "added Service default/new", "added EndpointSlice default/new-1", "added Endpoints default/new",
                "deleted Endpoints default/old", "deleted EndpointSlice default/old-1", "deleted Service default/old",
            ])
    }

    @Test func anEditComparesOnlyTheEditedFilesObjectsAndStillFindsEveryChange() {
        var tracker = ManifestTracker()
        _ = tracker.plan(listing: ["a": Self.signature(1), "b": Self.signature(1)], initial: true)
        _ = tracker.apply(loads: [
            "a": Self.load(1, [Self.service("web"), Self.service("api")]), "b": Self.load(1, [Self.service("db")]),
        ])
        let edited = tracker.apply(loads: ["b": Self.load(2, [Self.service("db", port: 81), Self.service("cache")])])
        #expect(edited.events.map(\.summary) == ["added Service default/cache", "updated Service default/db"])
        // The skip is only for objects from files not re-read: a comparison it leaves out is
        // one that cannot differ.
        let old = [Self.service("x").key: Self.service("x"), Self.service("y").key: Self.service("y")]
        let new = [Self.service("x").key: Self.service("x", port: 81), Self.service("z").key: Self.service("z")]
        #expect(
            ManifestTracker.diff(from: old, to: new) { _ in false }.map(\.summary) == [
                "added Service default/z", "deleted Service default/y",
            ])
    }
}
