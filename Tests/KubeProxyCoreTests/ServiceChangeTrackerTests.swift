import KubeAPI
import KubeProxyCore
import KubeProxyTesting
import Testing

@Suite("ServiceChangeTracker")
struct ServiceChangeTrackerTests {
    typealias Tracker = ServiceChangeTracker<ManualClock.Instant>

    static let s1 = TestObjects.service(resourceVersion: "1")
    static let s2 = TestObjects.service(ports: [ServicePortSpec(name: "p80", port: 81)], resourceVersion: "2")
    static let s3 = TestObjects.service(ports: [ServicePortSpec(name: "p80", port: 82)], resourceVersion: "3")

    /// Events as informer handlers deliver them, and the change that must be left pending.
    struct CollapseCase: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [(previous: Service?, current: Service?)]
        var expected: PendingChange<Service>?
        var testDescription: String { name }
    }

    static let collapseCases: [CollapseCase] = [
        CollapseCase(name: "add", events: [(nil, s1)], expected: PendingChange(previous: nil, current: s1)),
        CollapseCase(name: "add + update", events: [(nil, s1), (s1, s2)], expected: PendingChange(previous: nil, current: s2)),
        CollapseCase(name: "add + delete", events: [(nil, s1), (s1, nil)], expected: nil),
        CollapseCase(name: "update + update", events: [(s1, s2), (s2, s3)], expected: PendingChange(previous: s1, current: s3)),
        CollapseCase(name: "update + delete", events: [(s1, s2), (s2, nil)], expected: PendingChange(previous: s1, current: nil)),
        CollapseCase(name: "delete + add", events: [(s1, nil), (nil, s2)], expected: PendingChange(previous: s1, current: s2)),
        CollapseCase(name: "delete", events: [(s1, nil)], expected: PendingChange(previous: s1, current: nil)),
        CollapseCase(name: "update back to the original", events: [(s1, s2), (s2, s1)], expected: nil),
        CollapseCase(name: "update to an identical object", events: [(s1, s1)], expected: nil),
        CollapseCase(
            name: "add + delete + add", events: [(nil, s1), (s1, nil), (nil, s2)],
            expected: PendingChange(previous: nil, current: s2)),
    ]

    @Test(arguments: collapseCases)
    func collapses(_ testCase: CollapseCase) {
        var tracker = Tracker()
        var pendingAfterLast = false
        for event in testCase.events {
            pendingAfterLast = tracker.update(previous: event.previous, current: event.current, at: t(0))
        }
        let key = NamespacedName(namespace: "ns1", name: "svc1")
        #expect(tracker.pendingChange(for: key) == testCase.expected)
        #expect(pendingAfterLast == (testCase.expected != nil))
        #expect(tracker.pendingCount == (testCase.expected == nil ? 0 : 1))
    }

    @Test func aPendingChangeIsTwoPointersWhateverTheObjectsSize() {
        // The tracker holds one per Service until the next sync (16 MB at 10k when inline).
        #expect(MemoryLayout<PendingChange<Service>>.size == 2 * MemoryLayout<Int>.size)
        var change = PendingChange(previous: Self.s1, current: nil)
        change.current = Self.s2
        #expect(change.previous == Self.s1 && change.current == Self.s2 && !change.isNoOp)
        change.previous = Self.s2
        #expect(change.isNoOp)
    }

    @Test func tracksTheOldestPendingChangeUntilTaken() {
        var tracker = Tracker()
        #expect(tracker.oldestPendingChange == nil)
        tracker.update(previous: nil, current: Self.s1, at: t(1))
        tracker.update(previous: nil, current: TestObjects.service("svc2"), at: t(2))
        tracker.update(previous: Self.s1, current: Self.s2, at: t(3))
        #expect(tracker.oldestPendingChange == t(1))
        #expect(tracker.pendingCount == 2)

        let taken = tracker.take()
        #expect(Set(taken.keys) == [NamespacedName(namespace: "ns1", name: "svc1"), NamespacedName(namespace: "ns1", name: "svc2")])
        #expect(taken[NamespacedName(namespace: "ns1", name: "svc1")] == PendingChange(previous: nil, current: Self.s2))
        #expect(tracker.pendingCount == 0)
        #expect(tracker.oldestPendingChange == nil)
        #expect(tracker.take().isEmpty)

        tracker.update(previous: Self.s2, current: Self.s3, at: t(9))
        #expect(tracker.oldestPendingChange == t(9))
    }

    @Test func changesThatCancelOutClearTheOldestTime() {
        var tracker = Tracker()
        tracker.update(previous: nil, current: Self.s1, at: t(1))
        tracker.update(previous: Self.s1, current: nil, at: t(2))
        #expect(tracker.oldestPendingChange == nil)
        #expect(tracker.pendingCount == 0)
    }

    @Test func ignoresObjectsWithoutAName() {
        var tracker = Tracker()
        let nameless = Service(metadata: ObjectMeta(namespace: "ns1"), spec: ServiceSpec())
        #expect(tracker.update(previous: nil, current: nameless, at: t(0)) == false)
        #expect(tracker.pendingCount == 0)
    }
}
