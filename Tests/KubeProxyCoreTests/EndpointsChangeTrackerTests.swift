import KubeAPI
import KubeProxyCore
import KubeProxyTesting
import Testing

@Suite("EndpointsChangeTracker")
struct EndpointsChangeTrackerTests {
    typealias Tracker = EndpointsChangeTracker<ManualClock.Instant>

    let svc1 = NamespacedName(namespace: "ns1", name: "svc1")
    let svc2 = NamespacedName(namespace: "ns1", name: "svc2")
    let sliceKey = NamespacedName(namespace: "ns1", name: "svc1-abcde")

    static let a = TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1")], triggerTime: "2024-01-01T00:00:01Z")
    static let b = TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.2")], triggerTime: "2024-01-01T00:00:02Z")
    static let c = TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.3")])

    struct CollapseCase: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [(previous: EndpointSlice?, current: EndpointSlice?)]
        var expected: PendingChange<Tracker.Source>?
        var endpoints: [String]
        var testDescription: String { name }
    }

    static let collapseCases: [CollapseCase] = [
        CollapseCase(
            name: "add", events: [(nil, a)], expected: PendingChange(previous: nil, current: .slice(a)),
            endpoints: ["10.180.0.1:8080"]),
        CollapseCase(name: "add + delete", events: [(nil, a), (a, nil)], expected: nil, endpoints: []),
        CollapseCase(
            name: "update + update", events: [(a, b), (b, c)], expected: PendingChange(previous: .slice(a), current: .slice(c)),
            endpoints: ["10.180.0.3:8080"]),
        CollapseCase(
            name: "delete + add", events: [(a, nil), (nil, b)], expected: PendingChange(previous: .slice(a), current: .slice(b)),
            endpoints: ["10.180.0.2:8080"]),
        CollapseCase(name: "update and back", events: [(nil, a), (a, b), (b, nil), (nil, a), (a, nil)], expected: nil, endpoints: []),
    ]

    @Test(arguments: collapseCases)
    func collapsesPerSlice(_ testCase: CollapseCase) {
        var tracker = Tracker(family: .ipv4)
        for event in testCase.events {
            tracker.update(previous: event.previous, current: event.current, at: t(0))
        }
        #expect(tracker.pendingChange(for: sliceKey) == testCase.expected)
        let endpoints = tracker.cache.endpoints(for: svc1)[TestObjects.portName()] ?? []
        #expect(endpoints.map(\.description) == testCase.endpoints)
        #expect(tracker.take().services == (testCase.expected == nil ? [] : [svc1]))
    }

    @Test func takeReportsTouchedServicesAndTriggerTimes() {
        var tracker = Tracker(family: .ipv4)
        let pending = tracker.update(previous: nil, current: Self.a, at: t(1))
        #expect(pending)
        let other = TestObjects.slice(
            "svc2-x", service: "svc2", endpoints: [TestObjects.endpoint("10.180.0.9")], triggerTime: "2024-01-01T00:00:00Z")
        tracker.update(previous: nil, current: other, at: t(2))
        #expect(tracker.oldestPendingChange == t(1))
        #expect(tracker.pendingCount == 2)
        let changes = tracker.take()
        #expect(changes.services == [svc1, svc2])
        #expect(changes.lastChangeTriggerTimes == ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"])
        #expect(changes.problems.isEmpty)
        #expect(tracker.pendingCount == 0)
        #expect(tracker.oldestPendingChange == nil)
        let again = tracker.take()
        #expect(again.services.isEmpty && again.problems.isEmpty && again.lastChangeTriggerTimes.isEmpty)
    }

    @Test func aRelabelledSliceTouchesBothServices() {
        var tracker = Tracker(family: .ipv4)
        tracker.update(previous: nil, current: Self.a, at: t(0))
        _ = tracker.take()
        let moved = TestObjects.slice(service: "svc2", endpoints: [TestObjects.endpoint("10.180.0.1")])
        tracker.update(previous: Self.a, current: moved, at: t(1))
        #expect(tracker.take().services == [svc1, svc2])
    }

    @Test func refusesAnInvalidSliceAndKeepsTheLastGoodOne() {
        var tracker = Tracker(family: .ipv4)
        tracker.update(previous: nil, current: Self.a, at: t(0))
        _ = tracker.take()
        let bad = TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.300")])
        let pending = tracker.update(previous: Self.a, current: bad, at: t(1))
        #expect(pending, "a refusal is work for the next sync: reporting it")
        let changes = tracker.take()
        #expect(changes.problems[sliceKey]?.map(\.field) == ["endpoints[0].addresses[0]"])
        #expect(changes.services.isEmpty)
        #expect(tracker.cache.endpoints(for: svc1)[TestObjects.portName()]?.map(\.description) == ["10.180.0.1:8080"])
    }

    /// For a source that validated already: nothing is refused here, and the cache keeps
    /// what it can use of the object (the bad address is skipped, as the cache is lenient).
    @Test func withoutValidationASliceIsTakenAsItComes() {
        var tracker = Tracker(family: .ipv4)
        tracker.validatesObjects = false
        tracker.update(previous: nil, current: Self.a, at: t(0))
        _ = tracker.take()
        let bad = TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.300")])
        tracker.update(previous: Self.a, current: bad, at: t(1))
        let changes = tracker.take()
        #expect(changes.problems.isEmpty)
        #expect(changes.services == [svc1])
        #expect(tracker.cache.endpoints(for: svc1).isEmpty)
    }

    @Test func aProblemIsForgottenOnceAValidVersionArrives() {
        var tracker = Tracker(family: .ipv4)
        let bad = TestObjects.slice(endpoints: [TestObjects.endpoint("nope")])
        tracker.update(previous: nil, current: bad, at: t(0))
        #expect(tracker.hasWork)
        tracker.update(previous: bad, current: Self.b, at: t(1))
        let changes = tracker.take()
        #expect(changes.problems.isEmpty)
        #expect(changes.services == [svc1])
        #expect(!tracker.hasWork)
    }

    @Test func anotherSlicesProblemDoesNotAffectThisOne() {
        var tracker = Tracker(family: .ipv4)
        let bad = TestObjects.slice("svc1-bad", endpoints: [TestObjects.endpoint("nope")])
        tracker.update(previous: nil, current: Self.a, at: t(0))
        tracker.update(previous: nil, current: bad, at: t(0))
        let changes = tracker.take()
        #expect(Set(changes.problems.keys) == [NamespacedName(namespace: "ns1", name: "svc1-bad")])
        #expect(changes.services == [svc1])
        #expect(tracker.cache.endpoints(for: svc1)[TestObjects.portName()]?.count == 1)
    }

    @Test func tracksLegacyEndpointsUnderTheirOwnKey() {
        var tracker = Tracker(family: .ipv4)
        let legacy = Endpoints(
            metadata: ObjectMeta(name: "svc1", namespace: "ns1"),
            subsets: [
                EndpointSubset(
                    addresses: [EndpointSubsetAddress(ip: "10.180.0.7")],
                    ports: [EndpointSubsetPort(name: "p80", port: 8080)])
            ])
        tracker.update(previous: nil, current: legacy, at: t(0))
        let key = NamespacedName(namespace: "ns1", name: "endpoints:svc1")
        #expect(tracker.pendingChange(for: key) == PendingChange(previous: nil, current: .endpoints(legacy)))
        #expect(tracker.take().services == [svc1])
        tracker.update(previous: legacy, current: nil, at: t(1))
        #expect(tracker.take().services == [svc1])
        #expect(tracker.cache.endpoints(for: svc1).isEmpty)
    }

    /// A valid slice of another address type is not recorded (it would only hold the object
    /// until the next sync): nothing pending, no sync requested, nothing in the cache.
    @Test func aValidSliceOfTheOtherFamilyIsNotRecorded() {
        var tracker = Tracker(family: .ipv6)
        let v4 = Self.a
        let first = tracker.update(previous: nil, current: v4, at: t(0))
        #expect(!first)
        #expect(tracker.pendingCount == 0)
        #expect(tracker.pendingChange(for: sliceKey) == nil)
        #expect(tracker.oldestPendingChange == nil)
        let second = tracker.update(previous: v4, current: Self.b, at: t(1))
        let third = tracker.update(previous: Self.b, current: nil, at: t(2))
        #expect(!second && !third)
        let changes = tracker.take()
        #expect(changes.services.isEmpty && changes.problems.isEmpty && changes.lastChangeTriggerTimes.isEmpty)
        #expect(tracker.cache.services.isEmpty)
    }

    /// An invalid slice of the other family is still refused and reported (as before), and the
    /// valid version that follows clears the problem.
    @Test func anInvalidSliceOfTheOtherFamilyIsStillReported() {
        var tracker = Tracker(family: .ipv6)
        let bad = TestObjects.slice(endpoints: [TestObjects.endpoint("nope")])
        let refused = tracker.update(previous: nil, current: bad, at: t(0))
        #expect(refused)
        #expect(tracker.take().problems[sliceKey] != nil)
        tracker.update(previous: nil, current: bad, at: t(1))
        tracker.update(previous: bad, current: Self.a, at: t(2))
        let changes = tracker.take()
        #expect(changes.problems.isEmpty)
        #expect(changes.services.isEmpty)
    }

    /// A slice whose address type changes away from this family (the lenient cache allows it)
    /// still leaves the cache: the event is recorded because the old version was of this family.
    @Test func aSliceLeavingThisFamilyIsRecorded() {
        var tracker = Tracker(family: .ipv4)
        tracker.update(previous: nil, current: Self.a, at: t(0))
        _ = tracker.take()
        let v6 = TestObjects.slice(addressType: "IPv6", endpoints: [TestObjects.endpoint("2001:db8::1")])
        let left = tracker.update(previous: Self.a, current: v6, at: t(1))
        #expect(left)
        #expect(tracker.take().services == [svc1])
        #expect(tracker.cache.endpoints(for: svc1).isEmpty)
    }
}
