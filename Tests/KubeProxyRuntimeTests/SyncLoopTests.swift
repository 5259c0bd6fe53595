import KubeAPI
import KubeProxyCore
import KubeProxyHost
import KubeProxyTesting
import Logging
import Synchronization
import Testing

@testable import KubeProxyRuntime

/// A backend that keeps what it programmed and can be told to fail, so loop tests assert the
/// resulting state and the plans it was handed, not a call log of the loop's internals.
actor RecordingBackend: ProxyBackend {
    /// The plan: which service ports exist, and which this sync added.
    struct Plan: Sendable, Hashable {
        var servicePorts: Set<ServicePortName>
        var added: Set<ServicePortName>
    }

    /// Every plan `apply` was given, in order.
    private(set) var applied: [Plan] = []
    /// What the "kernel" holds: the service ports of the last successful apply.
    private(set) var programmed: Set<ServicePortName> = []
    /// Whether `start` ran.
    private(set) var started = false
    /// The drain timeout `shutdown` was given, once it ran.
    private(set) var drainTimeout: Duration?
    private var result = SyncOutcome.Result.succeeded
    private var duringApply: (@Sendable () async -> Void)?

    /// Every Node change delivered, in order.
    private(set) var nodes: [Node?] = []
    /// The number of plans made before each Node change was delivered.
    private(set) var plansBeforeNode: [Int] = []

    /// Records the Node change (and how many applies came before it).
    func nodeChanged(_ node: Node?) {
        nodes.append(node)
        plansBeforeNode.append(applied.count)
    }

    /// Every set of ServiceCIDR ranges delivered, in order.
    private(set) var serviceCIDRs: [[CIDR]] = []

    /// Records the ranges.
    func serviceCIDRsChanged(_ cidrs: [CIDR]) { serviceCIDRs.append(cidrs) }

    /// Records that the loop started the backend.
    func start() { started = true }

    /// The snapshot's service ports and what the delta added.
    func plan(snapshot: ProxySnapshot, delta: SyncDelta) -> Plan {
        Plan(servicePorts: Set(snapshot.servicePorts.keys), added: delta.addedServicePorts)
    }

    /// Records `plan`; programs it unless told to fail. The first apply is a full sync.
    func apply(_ plan: Plan) async -> SyncOutcome {
        applied.append(plan)
        await duringApply?()
        if case .failed = result { return SyncOutcome(result: result) }
        programmed = plan.servicePorts
        return SyncOutcome(result: result, kind: applied.count == 1 ? .full : .partial)
    }

    /// Records the drain timeout.
    func shutdown(drainTimeout: Duration) { self.drainTimeout = drainTimeout }

    /// Nothing to clean.
    static func cleanup(logger: Logger) {}

    /// What the next applies report.
    func setResult(_ result: SyncOutcome.Result) { self.result = result }

    /// Work done in the middle of every apply (advance a clock, shut the loop down).
    func setDuringApply(_ work: (@Sendable () async -> Void)?) { duringApply = work }
}

@Suite(.timeLimit(.minutes(1)))
struct SyncLoopTests {
    static let web = ProxyControllerTests.web
    static let api = ServicePortName(namespace: "default", name: "api", port: "http")

    /// The outcomes the `syncOutcome` observer saw, with their durations.
    final class Outcomes: Sendable {
        private let seen = Mutex<[(SyncOutcome, Duration)]>([])
        var all: [(SyncOutcome, Duration)] { seen.withLock { $0 } }
        func record(_ outcome: SyncOutcome, _ duration: Duration) { seen.withLock { $0.append((outcome, duration)) } }
    }

    func makeLoop(
        clock: ManualClock = ManualClock(), health: HealthHolder? = nil, outcomes: Outcomes? = nil
    ) -> (SyncLoop<RecordingBackend, ManualClock>, RecordingBackend) {
        let backend = RecordingBackend()
        let loop = SyncLoop(
            nodeName: "node-1", family: .ipv4, backend: backend, clock: clock,
            observers: ProxyObservers(
                health: health, syncOutcome: { outcome, _, duration in outcomes?.record(outcome, duration) }),
            logger: Logger(label: "test"))
        return (loop, backend)
    }

    @Test func beforeTheSourceHasSyncedNoPlanIsMade() async throws {
        let (loop, backend) = makeLoop()
        #expect(await loop.handle(.service(.added(ProxyControllerTests.service("web")))) == false)
        #expect(await loop.sync())
        #expect(await backend.applied.isEmpty)
        #expect(await loop.phase == .waitingForInitialState)
        #expect(await loop.lastOutcome == nil)
    }

    @Test func theFirstSyncHandsTheBackendOnePlanWithTheWholeSnapshot() async throws {
        let (loop, backend) = makeLoop()
        _ = await loop.handle(.service(.added(ProxyControllerTests.service("web"))))
        _ = await loop.handle(.service(.added(ProxyControllerTests.service("api", clusterIP: "10.96.0.11"))))
        #expect(await loop.handle(.synced))
        #expect(await loop.sync())
        let both: Set = [Self.web, Self.api]
        #expect(await backend.applied == [RecordingBackend.Plan(servicePorts: both, added: both)])
        #expect(await backend.programmed == both)
        #expect(await loop.lastOutcome?.kind == .full)

        // The next sync after one deletion carries the whole snapshot again, with nothing added.
        _ = await loop.handle(.service(.deleted(ProxyControllerTests.service("api", clusterIP: "10.96.0.11"))))
        #expect(await loop.sync())
        #expect(await backend.applied.last == RecordingBackend.Plan(servicePorts: [Self.web], added: []))
        #expect(await backend.programmed == [Self.web])
    }

    /// A batch (a source's initial load, a drained run of watch events) is its events in
    /// order: an addition deleted later in the same batch never reaches the backend.
    @Test func aBatchIsRecordedAsItsEventsInOrder() async throws {
        let (loop, backend) = makeLoop()
        let web = ProxyControllerTests.service("web")
        let api = ProxyControllerTests.service("api", clusterIP: "10.96.0.11")
        #expect(await loop.handle([.service(.added(web)), .service(.added(api))]) == false, "not synced yet")
        #expect(await loop.handle([.service(.deleted(api)), .synced]))
        #expect(await loop.sync())
        #expect(await backend.applied == [RecordingBackend.Plan(servicePorts: [Self.web], added: [Self.web])])
        #expect(await loop.handle([]) == false)
        #expect(await loop.handle([.service(.added(api))]))
        #expect(await loop.sync())
        #expect(await backend.programmed == [Self.web, Self.api])
    }

    /// A Service of the other family is not recorded: no sync is asked for and nothing is
    /// pending; one of this family still is.
    @Test func anotherFamilysServiceIsNotRecorded() async throws {
        let (loop, backend) = makeLoop()
        _ = await loop.handle([.synced])
        #expect(await loop.sync())
        let v6 = ProxyControllerTests.service("v6", clusterIP: "fd00::10")
        #expect(await loop.handle(.service(.added(v6))) == false)
        #expect(await loop.handle(.service(.updated(old: v6, new: v6))) == false)
        #expect(await loop.handle(.service(.deleted(v6))) == false)
        #expect(await loop.handle(.service(.added(ProxyControllerTests.service("web")))))
        #expect(await loop.sync())
        #expect(await backend.programmed == [Self.web])
    }

    @Test func aFailedApplyAsksForARetryAndLeavesHealthAlone() async throws {
        let health = HealthHolder(syncPeriod: .seconds(30))
        let (loop, backend) = makeLoop(health: health)
        _ = await loop.handle(.service(.added(ProxyControllerTests.service("web"))))
        _ = await loop.handle(.synced)
        await backend.setResult(.failed(reason: "injected"))
        #expect(await loop.sync() == false)
        #expect(await loop.lastOutcome?.wantsRetry == true)
        #expect(health.healthz().status[.ipv4]?.lastUpdated == nil, "a failed sync is not an update")
        #expect(await loop.phase == .ready(firstSyncDone: false))
        #expect(await backend.programmed.isEmpty)

        await backend.setResult(.succeeded)
        #expect(await loop.sync())
        #expect(health.healthz().status[.ipv4]?.lastUpdated != nil)
        #expect(await loop.phase == .ready(firstSyncDone: true))
        #expect(await backend.programmed == [Self.web])
    }

    /// A partly programmed sync (a port held by another program) counts for health but still
    /// asks the scheduler for a prompt retry.
    @Test func aProgrammedSyncWithRetryUpdatesHealthAndAsksForARetry() async throws {
        let health = HealthHolder(syncPeriod: .seconds(30))
        let (loop, backend) = makeLoop(health: health)
        _ = await loop.handle(.synced)
        await backend.setResult(.programmedWithRetry(reason: "port taken"))
        #expect(await loop.sync() == false)
        #expect(health.healthz().status[.ipv4]?.lastUpdated != nil)
        #expect(await loop.phase == .ready(firstSyncDone: true))
    }

    @Test func thePhaseMovesFromWaitingToReadyToShuttingDown() async throws {
        let (loop, backend) = makeLoop()
        try await loop.start()
        #expect(await backend.started)
        #expect(await loop.phase == .waitingForInitialState)
        #expect(await loop.isInitialized == false)
        _ = await loop.handle(.synced)
        #expect(await loop.phase == .ready(firstSyncDone: false))
        #expect(await loop.sync())
        #expect(await loop.phase == .ready(firstSyncDone: true))
        #expect(await loop.handle(.synced), "a re-list after a watch error asks for a sync")
        #expect(await loop.phase == .ready(firstSyncDone: true))

        await loop.shutdown(drainTimeout: .seconds(7))
        #expect(await loop.phase == .shuttingDown)
        #expect(await backend.drainTimeout == .seconds(7))
        #expect(await loop.handle(.synced) == false)
        _ = await loop.handle(.service(.added(ProxyControllerTests.service("web"))))
        #expect(await loop.sync())
        #expect(await backend.applied.count == 1, "no sync reaches the backend after shutdown")
        #expect(await loop.phase == .shuttingDown)
    }

    /// Shutdown while the backend is applying: the loop re-checks its phase after the await and
    /// reports nothing (no health update, no outcome observer).
    @Test func aShutdownDuringApplyStopsTheSyncAfterTheBackendReturns() async throws {
        let health = HealthHolder(syncPeriod: .seconds(30))
        let outcomes = Outcomes()
        let (loop, backend) = makeLoop(health: health, outcomes: outcomes)
        await backend.setDuringApply { await loop.shutdown(drainTimeout: .zero) }
        _ = await loop.handle(.synced)
        #expect(await loop.sync())
        #expect(await backend.applied.count == 1)
        #expect(await loop.phase == .shuttingDown)
        #expect(health.healthz().status[.ipv4]?.lastUpdated == nil)
        #expect(outcomes.all.isEmpty)
    }

    /// Sync durations come from the injected clock: a backend that takes 3 s of manual time
    /// makes a 3 s sync, with no real waiting.
    @Test func theInjectedClockMeasuresTheSync() async throws {
        let clock = ManualClock()
        let outcomes = Outcomes()
        let (loop, backend) = makeLoop(clock: clock, outcomes: outcomes)
        await backend.setDuringApply { clock.advance(by: .seconds(3)) }
        _ = await loop.handle(.synced)
        #expect(await loop.sync())
        await backend.setDuringApply { clock.advance(by: .milliseconds(250)) }
        #expect(await loop.sync())
        #expect(outcomes.all.map(\.1) == [.seconds(3), .milliseconds(250)])
        #expect(outcomes.all.map(\.0.kind) == [.full, .partial])
    }

    // MARK: Node changes and conntrack

    @Test func aNodeChangeReachesTheBackendBeforeTheNextPlanAndRequestsASync() async throws {
        let (loop, backend) = makeLoop()
        _ = await loop.handle(.synced)
        #expect(await loop.sync())
        let node = Node(metadata: ObjectMeta(name: "node-1", labels: ["topology.kubernetes.io/zone": "zone-b"]))
        #expect(await loop.handle(.node(.added(node))), "a Node change asks for a sync")
        #expect(await backend.nodes.isEmpty, "recorded, not delivered, on the event path")
        #expect(await loop.sync())
        #expect(await backend.nodes == [node])
        #expect(await backend.plansBeforeNode == [1], "delivered before the second plan")
        #expect(await loop.sync())
        #expect(await backend.nodes.count == 1, "delivered once")
    }

    /// A conntrack tool that keeps the flows it was asked to delete.
    final class FakeConntrack: ConntrackExecutor {
        private let deleted = Mutex<[ConntrackCleanup.Filter]>([])
        var filters: [ConntrackCleanup.Filter] { deleted.withLock { $0 } }
        func deleteUDPFlows(destination: IPAddress) async throws {}
        func deleteUDPFlows(matching filter: ConntrackCleanup.Filter) async throws -> Int {
            deleted.withLock { $0.append(filter) }
            return 1
        }
    }

    static func udpSlice(_ addresses: [String]) -> EndpointSlice {
        EndpointSlice(
            apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
            metadata: ObjectMeta(name: "dns-1", namespace: "default", labels: ["kubernetes.io/service-name": "dns"]),
            addressType: "IPv4", endpoints: addresses.map { EndpointSliceEndpoint(addresses: [$0]) },
            ports: [EndpointSlicePort(name: "dns", protocol: "UDP", port: 5353)])
    }

    @Test func staleUDPFlowsAreDeletedAfterProgrammedSyncsIncludingChangesOfFailedOnes() async throws {
        let conntrack = FakeConntrack()
        let backend = RecordingBackend()
        let loop = SyncLoop(
            nodeName: "node-1", family: .ipv4, backend: backend, clock: ManualClock(),
            observers: ProxyObservers(
                conntrack: ConntrackReconciler(executor: conntrack, metrics: nil, logger: Logger(label: "test"))),
            logger: Logger(label: "test"))
        let dns = ProxyControllerTests.service("dns", clusterIP: "10.96.0.53", ports: [("dns", 53, "UDP")])
        _ = await loop.handle(.service(.added(dns)))
        _ = await loop.handle(.synced)
        #expect(await loop.sync())
        #expect(conntrack.filters.isEmpty, "the first sync after a start deletes nothing")
        _ = await loop.handle(.endpointSlice(.added(Self.udpSlice(["10.0.0.1", "10.0.0.2"]))))
        #expect(await loop.sync())
        let first = ConntrackCleanup.Filter(
            family: .ipv4, destination: IPAddress("10.96.0.53"), destinationPort: 53, replySource: nil)
        #expect(conntrack.filters == [first], "the first endpoints clear flows recorded while there were none")

        // The endpoint goes while the backend fails: nothing is deleted until a sync programs it.
        await backend.setResult(.failed(reason: "injected"))
        _ = await loop.handle(
            .endpointSlice(.updated(old: Self.udpSlice(["10.0.0.1", "10.0.0.2"]), new: Self.udpSlice(["10.0.0.2"]))))
        #expect(await loop.sync() == false)
        #expect(conntrack.filters == [first])
        await backend.setResult(.succeeded)
        #expect(await loop.sync())
        #expect(
            conntrack.filters.last
                == ConntrackCleanup.Filter(
                    family: .ipv4, destination: IPAddress("10.96.0.53"), destinationPort: 53,
                    replySource: IPAddress("10.0.0.1")))
        #expect(conntrack.filters.count == 2)
        #expect(await loop.sync())
        #expect(conntrack.filters.count == 2, "an idle sync deletes nothing")
    }

    @Test func serviceCIDRRangesReachTheBackendAsOneUnionBeforeTheNextPlan() async throws {
        let (loop, backend) = makeLoop()
        _ = await loop.handle(.synced)
        #expect(await loop.sync())
        let kubernetes = ServiceCIDR(
            metadata: ObjectMeta(name: "kubernetes"), spec: ServiceCIDRSpec(cidrs: ["10.96.0.0/12", "fd00:10:96::/112"]))
        let extra = ServiceCIDR(metadata: ObjectMeta(name: "extra"), spec: ServiceCIDRSpec(cidrs: ["10.200.0.0/16"]))
        #expect(await loop.handle(.serviceCIDR(.added(kubernetes))))
        _ = await loop.handle(.serviceCIDR(.added(extra)))
        #expect(await loop.sync())
        #expect(
            await backend.serviceCIDRs == [[CIDR("10.200.0.0/16")!, CIDR("10.96.0.0/12")!, CIDR("fd00:10:96::/112")!]])
        _ = await loop.handle(.serviceCIDR(.deleted(extra)))
        #expect(await loop.sync())
        #expect(await backend.serviceCIDRs.last == [CIDR("10.96.0.0/12")!, CIDR("fd00:10:96::/112")!])
        #expect(await loop.sync())
        #expect(await backend.serviceCIDRs.count == 2, "unchanged ranges are not delivered again")
    }
}
