import Foundation
import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import Synchronization
import Testing

@testable import KubeProxyRuntime

/// Sync cost of the portal rules at 10k service ports (20k rules), printed, not asserted:
/// timing depends on the machine. Opt-in (`PORTAL_SCALE=1`) because it takes seconds in a
/// debug build. It does assert what each sync wrote, so it cannot pass while measuring the
/// wrong thing.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PORTAL_SCALE"] == "1", "set PORTAL_SCALE=1 to measure"))
struct PortalManagerScaleTests {
    /// Forwards to a fake and adds up the time spent in it, so the manager's own share of a
    /// sync (what runs on its actor) can be told apart from the tool's.
    final class TimedExecutor: IPTablesExecutor {
        let fake = FakeIPTables()
        private let spent = Mutex<Duration>(.zero)
        var toolTime: Duration { spent.withLock { $0 } }

        func save(family: IPFamily) async throws -> String {
            let start = ContinuousClock.now
            defer { spent.withLock { $0 += ContinuousClock.now - start } }
            return try await fake.save(family: family)
        }

        func restore(_ input: String, family: IPFamily) async throws {
            let start = ContinuousClock.now
            defer { spent.withLock { $0 += ContinuousClock.now - start } }
            try await fake.restore(input, family: family)
        }

        func isAvailable(family: IPFamily) -> Bool { true }
    }

    static func port(_ index: Int) -> PortalServicePort {
        PortalServicePort(
            servicePort: ServicePort(
                name: ServicePortName(namespace: "scale", name: "svc-\(index)", port: "http"),
                clusterIP: .v4(UInt32(0x0A60_0000) + UInt32(index)), port: 80),
            proxyPort: 20000 + index)
    }

    @Test func tenThousandServicePorts() async throws {
        let executor = TimedExecutor()
        let portals = PortalManager(
            executor: executor, renderer: PortalManagerTests.renderer, fullResyncPeriod: .seconds(3600),
            logger: Logger(label: "test"))
        var ports = (0..<10_000).map(Self.port)
        func measure(_ label: String, _ ports: [PortalServicePort]) async throws -> (lines: Int, restores: Int) {
            let restoresBefore = executor.fake.restoreInputs(family: .ipv4).count
            let toolBefore = executor.toolTime
            let start = ContinuousClock.now
            try await portals.sync(ports)
            let total = ContinuousClock.now - start
            let inputs = executor.fake.restoreInputs(family: .ipv4).dropFirst(restoresBefore)
            let lines = inputs.reduce(0) { $0 + $1.split(separator: "\n").count }
            let tool = executor.toolTime - toolBefore
            print("portal-scale \(label): sync \(total), of it in the fake tool \(tool), restores \(inputs.count), restore lines \(lines)")
            return (lines, inputs.count)
        }
        _ = try await measure("first sync", ports)
        _ = try await measure("second sync (confirms jumps)", ports)
        let noOp = try await measure("(a) no-op", ports)
        #expect(noOp.restores == 0)
        // Endpoints are not part of the portal input at all: an endpoint change hands the
        // manager the same ports, so it is the no-op case by construction.
        let endpointChange = try await measure("(b) endpoint change (same ports)", ports)
        #expect(endpointChange.restores == 0)
        ports.append(Self.port(10_000))
        let added = try await measure("(c) one service added", ports)
        #expect(added.restores == 1)
        ports.removeFirst()
        _ = try await measure("(d) one service removed", ports)
        #expect(PortalState(executor.fake.ruleSet(family: .ipv4)).rules(in: .portalsContainer).count == 10_000)
        await portals.requireFullSync()
        let check = try await measure("(e) periodic full check, nothing drifted", ports)
        #expect(check.restores == 0)
        // Where the full check's time goes.
        let text = try await executor.fake.save(family: .ipv4)
        var start = ContinuousClock.now
        let parsed = try IPTablesRuleSet(parsingSave: text)
        print("portal-scale   parse iptables-save: \(ContinuousClock.now - start)")
        start = ContinuousClock.now
        let state = PortalState(parsed)
        print("portal-scale   recognise rules: \(ContinuousClock.now - start)")
        start = ContinuousClock.now
        var book = PortalRuleBook()
        _ = book.update(to: PortalRuleBook.keyed(ports), renderer: PortalManagerTests.renderer)
        print("portal-scale   render all (book from scratch): \(ContinuousClock.now - start)")
        start = ContinuousClock.now
        #expect(book.isSatisfied(by: parsed))
        print("portal-scale   isSatisfied (recognise + count): \(ContinuousClock.now - start)")
        #expect(state.unrecognized.isEmpty)
    }
}
