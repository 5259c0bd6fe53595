import KubeAPI
import KubeProxyCore
import KubeProxyTesting
import Testing

/// An instant `seconds` after the manual clock's origin.
private func at(_ seconds: Double) -> ManualClock.Instant {
    ManualClock.Instant(offset: .milliseconds(Int64((seconds * 1000).rounded())))
}

private typealias Health = ProxyHealth<ManualClock.Instant>

struct ProxyHealthTests {
    @Test func startupWithNothingQueuedIsHealthyAndReportsNow() {
        let health = Health(timeout: .seconds(60))
        let verdict = health.healthz(at: at(1000))
        #expect(verdict.statusCode == 200)
        #expect(verdict.healthy)
        #expect(verdict.status.isEmpty)
        #expect(verdict.nodeEligible == nil)
        #expect(verdict.lastUpdated == at(1000))
        #expect(verdict.currentTime == at(1000))
        #expect(health.livez(at: at(1000)).statusCode == 200)
    }

    /// Unserved service ports fail `/healthz` with the reason; `/livez` and `isHealthy` (sync
    /// freshness) stay unaffected; clearing the reason restores a 200.
    @Test func unservedPortsFailHealthzOnlyWithAReason() {
        var health = Health(timeout: .seconds(60))
        health.updated(.ipv4, at: at(1))
        health.unserved(.ipv4, reason: "3 service ports not served (why): a, b, c")
        let failing = health.healthz(at: at(2))
        #expect(failing.statusCode == 503)
        #expect(failing.healthy, "healthy keeps upstream's sync-freshness meaning")
        #expect(failing.reason == "IPv4: 3 service ports not served (why): a, b, c")
        #expect(health.livez(at: at(2)).statusCode == 200)
        #expect(health.livez(at: at(2)).reason == nil)
        #expect(health.isHealthy(at: at(2)))

        health.unserved(.ipv4, reason: nil)
        let restored = health.healthz(at: at(3))
        #expect(restored.statusCode == 200)
        #expect(restored.reason == nil)
    }

    @Test func timeoutIsTwiceTheSyncPeriod() {
        #expect(Health(syncPeriod: .seconds(30)).timeout == .seconds(60))
    }

    /// A change queued at t=0 with a 60 s timeout: healthy strictly before the deadline,
    /// unhealthy from the deadline on (upstream's test is `now - oldest < timeout`).
    @Test(arguments: [
        (59.999, true), (0.0, true), (60.0, false), (61.0, false), (3600.0, false),
    ])
    func pendingChangeBecomesUnhealthyAtTheTimeout(checkedAt: Double, healthy: Bool) {
        var health = Health(timeout: .seconds(60))
        health.queued(.ipv4, at: at(0))
        let verdict = health.livez(at: at(checkedAt))
        #expect(verdict.healthy == healthy)
        #expect(verdict.statusCode == (healthy ? 200 : 503))
        #expect(verdict.status[.ipv4]?.healthy == healthy)
        #expect(health.isHealthy(at: at(checkedAt)) == healthy)
    }

    @Test func laterQueuedChangesDoNotMoveTheOldestOne() {
        var health = Health(timeout: .seconds(60))
        health.queued(.ipv4, at: at(0))
        health.queued(.ipv4, at: at(50))
        #expect(health.oldestPending(.ipv4) == at(0))
        #expect(health.livez(at: at(70)).statusCode == 503)
    }

    @Test func updateClearsThePendingChangeAndRecordsTheSyncTime() {
        var health = Health(timeout: .seconds(60))
        health.queued(.ipv4, at: at(0))
        health.updated(.ipv4, at: at(30))
        #expect(health.oldestPending(.ipv4) == nil)
        #expect(health.lastUpdated(.ipv4) == at(30))
        let verdict = health.livez(at: at(500))
        #expect(verdict.statusCode == 200)
        #expect(verdict.lastUpdated == at(500), "a 200 reports now as lastUpdated")
        #expect(verdict.status == [.ipv4: .init(lastUpdated: at(30), healthy: true)])
    }

    @Test func aChangeQueuedAfterASyncStartsANewDeadline() {
        var health = Health(timeout: .seconds(60))
        health.queued(.ipv4, at: at(0))
        health.updated(.ipv4, at: at(30))
        health.queued(.ipv4, at: at(40))
        #expect(health.livez(at: at(99.5)).statusCode == 200)
        #expect(health.livez(at: at(100)).statusCode == 503)
    }

    @Test func oneUnhealthyFamilyFailsTheWholeAndKeepsTheNewestSyncTime() {
        var health = Health(timeout: .seconds(60))
        health.updated(.ipv4, at: at(10))
        health.updated(.ipv6, at: at(20))
        health.queued(.ipv6, at: at(25))
        let verdict = health.livez(at: at(90))
        #expect(verdict.statusCode == 503)
        #expect(!verdict.healthy)
        #expect(verdict.lastUpdated == at(20), "on a 503 lastUpdated is the newest family sync")
        #expect(
            verdict.status == [
                .ipv4: .init(lastUpdated: at(10), healthy: true),
                .ipv6: .init(lastUpdated: at(20), healthy: false),
            ])
    }

    @Test func aFamilyThatNeverSyncedIsStillJudged() {
        var health = Health(timeout: .seconds(60))
        health.queued(.ipv6, at: at(0))
        let verdict = health.livez(at: at(60))
        #expect(verdict.statusCode == 503)
        #expect(verdict.lastUpdated == nil)
        #expect(verdict.status == [.ipv6: .init(lastUpdated: nil, healthy: false)])
    }

    static let nodeCases: [(String, Node?, Bool)] = [
        ("absent", nil, false),
        ("plain", Node(metadata: ObjectMeta(name: "n1")), true),
        ("deleting", Node(metadata: ObjectMeta(name: "n1", deletionTimestamp: "2024-05-01T10:00:00Z")), false),
        ("empty deletion timestamp", Node(metadata: ObjectMeta(name: "n1", deletionTimestamp: "")), true),
        (
            "autoscaler taint",
            Node(
                metadata: ObjectMeta(name: "n1"),
                spec: NodeSpec(taints: [Taint(key: "ToBeDeletedByClusterAutoscaler", effect: "NoSchedule")])),
            false
        ),
        (
            "other taint",
            Node(
                metadata: ObjectMeta(name: "n1"),
                spec: NodeSpec(taints: [Taint(key: "dedicated", effect: "NoSchedule")])),
            true
        ),
    ]

    @Test(arguments: nodeCases)
    func nodeEligibility(name: String, node: Node?, eligible: Bool) {
        var health = Health(timeout: .seconds(60))
        health.nodeChanged(node)
        #expect(health.nodeEligible == eligible, "\(name)")
        let healthz = health.healthz(at: at(5))
        #expect(healthz.nodeEligible == eligible)
        #expect(healthz.statusCode == (eligible ? 200 : 503))
        #expect(healthz.healthy, "the proxier itself stays healthy")
        let livez = health.livez(at: at(5))
        #expect(livez.statusCode == 200, "livez ignores the node")
        #expect(livez.nodeEligible == nil)
    }

    @Test func anIneligibleNodeKeepsTheLastSyncTimeOnA503() {
        var health = Health(timeout: .seconds(60))
        health.updated(.ipv4, at: at(10))
        health.nodeChanged(nil)
        let verdict = health.healthz(at: at(20))
        #expect(verdict.statusCode == 503)
        #expect(verdict.lastUpdated == at(10))
    }

    @Test func nodeBecomesEligibleAgainWhenTheTaintIsRemoved() {
        var health = Health(timeout: .seconds(60))
        let tainted = Node(
            metadata: ObjectMeta(name: "n1"), spec: NodeSpec(taints: [Taint(key: Health.toBeDeletedTaint)]))
        health.nodeChanged(tainted)
        #expect(health.healthz(at: at(1)).statusCode == 503)
        health.nodeChanged(Node(metadata: ObjectMeta(name: "n1"), spec: NodeSpec(taints: [])))
        #expect(health.healthz(at: at(2)).statusCode == 200)
    }
}
