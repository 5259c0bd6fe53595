import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import Synchronization
import Testing

@testable import KubeProxyRuntime

@Suite(.timeLimit(.minutes(1)))
struct ProxyControllerRetryTests {
    static func at(_ seconds: Int) -> ManualClock.Instant { ManualClock.Instant(offset: .seconds(seconds)) }

    @Test func theStoppedLineReportsTheEndpointsThePortHad() async throws {
        let (logger, lines) = RecordingLogHandler.logger(label: "proxier")
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: FakeUserspaceDataPlane(), logger: logger)
        let web = ProxyControllerTests.service("web")
        _ = await controller.handle(.service(.added(web)))
        _ = await controller.handle(
            .endpointSlice(
                .added(
                    ProxyControllerTests.slice(
                        "web-1", service: "web", endpoints: [("10.1.0.1", true, nil, nil), ("10.1.0.2", true, nil, nil)]))))
        _ = await controller.handle(.synced)
        #expect(await controller.sync())
        #expect(lines.metadata(of: "service port started").map { $0["endpoints"] } == ["2"])
        _ = await controller.handle(.service(.deleted(web)))
        #expect(await controller.sync())
        #expect(lines.metadata(of: "service port stopped").map { $0["endpoints"] } == ["2"])
    }

    /// A listener that keeps failing with the same reason is logged at error level once, not
    /// once per retry; a new failure is logged again.
    @Test func aRepeatedListenerFailureIsLoggedOnce() async throws {
        let (logger, lines) = RecordingLogHandler.logger(label: "proxier")
        let dataPlane = FakeUserspaceDataPlane()
        let controller = ProxyController(nodeName: "node-1", family: .ipv4, dataPlane: dataPlane, logger: logger)
        let web = ProxyControllerTests.service("web")
        dataPlane.setFailing([ServicePortName(namespace: "default", name: "web", port: "http")])
        _ = await controller.handle(.service(.added(web)))
        _ = await controller.handle(.synced)
        for _ in 0..<3 { #expect(await controller.sync() == false) }
        #expect(lines.metadata(of: "service port failed to open; will retry").count == 1)
        #expect(lines.metadata(of: "service port still fails to open; will retry").count == 2)

        dataPlane.setFailing([])
        #expect(await controller.sync())
        dataPlane.setFailing([ServicePortName(namespace: "default", name: "web", port: "http")])
        #expect(await controller.sync() == false)
        #expect(lines.metadata(of: "service port failed to open; will retry").count == 2)
    }

    /// Unserved service ports make `/healthz` a 503 with the data plane's report as reason, and
    /// it clears once the data plane serves everything.
    @Test func unservedPortsFailHealthzWithTheReport() async throws {
        let dataPlane = FakeUserspaceDataPlane()
        let health = HealthHolder(syncPeriod: .seconds(30))
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: dataPlane, observers: ProxyObservers(health: health),
            logger: Logger(label: "test"))
        let web = ProxyControllerTests.service("web")
        let report = UnservedPorts(
            names: [ServicePortName(namespace: "default", name: "web", port: "http")], reason: "no room")
        dataPlane.setUnserved(report)
        _ = await controller.handle(.service(.added(web)))
        _ = await controller.handle(.synced)
        #expect(await controller.sync())
        #expect(health.healthz().statusCode == 503)
        #expect(health.healthz().reason == "IPv4: \(report)")
        #expect(health.livez().statusCode == 200)

        dataPlane.setUnserved(nil)
        #expect(await controller.sync())
        #expect(health.healthz().statusCode == 200)
        #expect(health.healthz().reason == nil)
    }

    /// A NodePort someone else holds is retried after the scheduler's first backoff step (1 s),
    /// not only at the periodic sync 30 s later.
    @Test func aFailedNodePortClaimIsRetriedPromptly() async throws {
        let clock = ManualClock()
        let iptables = FakeIPTables()
        let dataPlane = FakeUserspaceDataPlane()
        let portals = PortalManager(
            executor: iptables, renderer: PortalManagerTests.renderer, fullResyncPeriod: .seconds(30),
            logger: Logger(label: "test"))
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: dataPlane, portals: portals, localAddresses: { [] },
            logger: Logger(label: "test"))
        var web = ProxyControllerTests.service("web")
        web.spec?.type = "NodePort"
        web.spec?.ports?[0].nodePort = 30080
        dataPlane.setTakenByOthers([30080])
        _ = await controller.handle(.service(.added(web)))
        _ = await controller.handle(.synced)

        let (results, reportResult) = AsyncStream.makeStream(of: Bool.self)
        let runner = SyncRunner(
            clock: clock, configuration: .init(minSyncPeriod: .seconds(1), syncPeriod: .seconds(30)),
            sync: {
                let ok = await controller.sync()
                reportResult.yield(ok)
                return ok
            })
        var syncs = results.makeAsyncIterator()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await runner.run() }
            await clock.waitForSleeper(until: Self.at(30))
            runner.requestSync()
            #expect(await syncs.next() == false, "a failed claim asks for a retry")
            #expect(dataPlane.claims.isEmpty, "the port is taken, so nothing is claimed")
            let retry = await clock.waitForSleepers(count: 1)
            #expect(retry == [Self.at(1)], "the retry is due after 1 s, not at the periodic sync")
            dataPlane.setTakenByOthers([])
            clock.advance(to: retry.first ?? Self.at(30))
            #expect(await syncs.next() == true)
            group.cancelAll()
        }
        #expect(dataPlane.claims.map(\.port) == [30080])
        let nodePortRules = PortalState(iptables.ruleSet(family: .ipv4)).rules(in: .nodePortContainer)
        #expect(nodePortRules.map(\.destinationPort) == [30080])
    }
}
