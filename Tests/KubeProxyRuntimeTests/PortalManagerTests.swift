import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import Testing

@testable import KubeProxyRuntime

struct PortalManagerTests {
    static let renderer = UserspacePortalRenderer(
        listenIP: .v4(0), hostIP: IPAddress("10.100.0.10")!, family: .ipv4)

    static func port(_ name: String, ip: String, proxyPort: Int, nodePort: Int = 0) -> PortalServicePort {
        PortalServicePort(
            servicePort: ServicePort(
                name: ServicePortName(namespace: "default", name: name, port: "http"), clusterIP: IPAddress(ip)!,
                port: 80, nodePort: nodePort),
            proxyPort: proxyPort)
    }

    func manager(_ fake: FakeIPTables) -> PortalManager {
        PortalManager(executor: fake, renderer: Self.renderer, fullResyncPeriod: .seconds(30), logger: Logger(label: "test"))
    }

    @Test func aSyncInstallsChainsRulesAndJumpsInOneBatch() async throws {
        let fake = FakeIPTables()
        let portals = manager(fake)
        try await portals.sync([Self.port("web", ip: "10.96.0.10", proxyPort: 40001, nodePort: 30080)])
        #expect(fake.restoreInputs(family: .ipv4).count == 1)
        let state = PortalState(fake.ruleSet(family: .ipv4))
        #expect(state.rules(in: .portalsContainer).map(\.target) == [.redirect(toPort: 40001)])
        #expect(state.rules(in: .portalsHost).map(\.target) == [.dnat(address: IPAddress("10.100.0.10")!, port: 40001)])
        #expect(state.rules(in: .nodePortNonLocal).map(\.destinationPort) == [40001])
        #expect(JumpReconciler.script(current: fake.ruleSet(family: .ipv4)).isEmpty)
    }

    @Test func anUnchangedSyncRunsNoToolAndAChangeRunsOneRestore() async throws {
        let fake = FakeIPTables()
        let portals = manager(fake)
        let web = Self.port("web", ip: "10.96.0.10", proxyPort: 40001)
        try await portals.sync([web])
        // The first batch also installed the parent jumps, so the next sync reads the kernel once
        // to confirm them; after that an unchanged sync costs no process at all.
        try await portals.sync([web])
        let saves = fake.saveCount(family: .ipv4)
        try await portals.sync([web])
        #expect(fake.restoreInputs(family: .ipv4).count == 1)
        #expect(fake.saveCount(family: .ipv4) == saves)
        try await portals.sync([web, Self.port("api", ip: "10.96.0.11", proxyPort: 40002)])
        #expect(fake.restoreInputs(family: .ipv4).count == 2)
        #expect(PortalState(fake.ruleSet(family: .ipv4)).rules(in: .portalsContainer).count == 2)
        // Removing a service removes its rules: the chains are rewritten whole.
        try await portals.sync([web])
        #expect(PortalState(fake.ruleSet(family: .ipv4)).rules(in: .portalsContainer).count == 1)
    }

    @Test func aRestartedManagerFindsThePreviousProxyPortsAndKeepsTheRulesAsTheyAre() async throws {
        let fake = FakeIPTables()
        try await manager(fake).sync([Self.port("web", ip: "10.96.0.10", proxyPort: 40001)])
        let before = fake.ruleSet(family: .ipv4)
        let restarted = manager(fake)
        #expect(try await restarted.start() == ["default/web:http": 40001])
        try await restarted.sync([Self.port("web", ip: "10.96.0.10", proxyPort: 40001)])
        #expect(fake.restoreInputs(family: .ipv4).count == 1, "identical rules need no restore")
        #expect(fake.ruleSet(family: .ipv4) == before)
    }

    @Test func aFailedRestoreIsThrownAndTheNextSyncReadsTheKernelAgain() async throws {
        let fake = FakeIPTables()
        let portals = manager(fake)
        fake.failNextRestore(with: HostError(.exitStatus(1), command: ["iptables-restore"], stderr: "boom"))
        await #expect(throws: (any Error).self) {
            try await portals.sync([Self.port("web", ip: "10.96.0.10", proxyPort: 40001)])
        }
        let saves = fake.saveCount(family: .ipv4)
        try await portals.sync([Self.port("web", ip: "10.96.0.10", proxyPort: 40001)])
        #expect(fake.saveCount(family: .ipv4) == saves + 1)
        #expect(PortalState(fake.ruleSet(family: .ipv4)).rules(in: .portalsContainer).count == 1)
    }

    @Test func cleanupRemovesEverythingAndIsHarmlessTwice() async throws {
        let fake = FakeIPTables()
        let portals = manager(fake)
        try await portals.sync([Self.port("web", ip: "10.96.0.10", proxyPort: 40001, nodePort: 30080)])
        try await portals.cleanup()
        let text = FakeIPTables.saveText(fake.ruleSet(family: .ipv4), family: .ipv4)
        #expect(!text.contains("KUBE-"))
        let restores = fake.restoreInputs(family: .ipv4).count
        try await portals.cleanup()
        #expect(fake.restoreInputs(family: .ipv4).count == restores)
    }

    @Test func theControllerPointsRulesAtTheListenersAndRemovesThemWithTheService() async throws {
        let fake = FakeIPTables()
        let dataPlane = FakeUserspaceDataPlane()
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: dataPlane, portals: manager(fake), logger: Logger(label: "test"))
        let web = ProxyControllerTests.service("web")
        _ = await controller.handle(.service(.added(web)))
        _ = await controller.handle(.synced)
        #expect(await controller.sync())
        let listening = await dataPlane.listenerPorts()
        let port = try #require(listening[ProxyControllerTests.web])
        let rules = PortalState(fake.ruleSet(family: .ipv4)).rules(in: .portalsContainer)
        #expect(rules.map(\.target) == [.redirect(toPort: port)])
        #expect(rules.first?.destination == IPAddress("10.96.0.10"))
        _ = await controller.handle(.service(.deleted(web)))
        #expect(await controller.sync())
        #expect(PortalState(fake.ruleSet(family: .ipv4)).rules(in: .portalsContainer).isEmpty)
    }

    @Test func nodePortsAndLocalExternalIPsAreClaimedAndATakenPortGetsNoRule() async throws {
        let fake = FakeIPTables()
        let dataPlane = FakeUserspaceDataPlane()
        let nodeIP = IPAddress("10.100.0.10")!
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: dataPlane, portals: manager(fake),
            localAddresses: { [nodeIP] }, logger: Logger(label: "test"))
        var web = ProxyControllerTests.service("web")
        web.spec?.type = "NodePort"
        web.spec?.ports?[0].nodePort = 30080
        web.spec?.externalIPs = ["10.100.0.10", "192.0.2.77"]
        var api = ProxyControllerTests.service("api", clusterIP: "10.96.0.11")
        api.spec?.type = "NodePort"
        api.spec?.ports?[0].nodePort = 30081
        dataPlane.setTakenByOthers([30081])
        _ = await controller.handle(.service(.added(web)))
        _ = await controller.handle(.service(.added(api)))
        _ = await controller.handle(.synced)
        #expect(await controller.sync() == false, "a failed claim asks the scheduler for a prompt retry")
        let claims = Set(dataPlane.claims.map { "\($0.address.map(String.init(describing:)) ?? "*"):\($0.port)" })
        #expect(claims == ["*:30080", "10.100.0.10:80"], "only the local external IP is claimed")
        let nodePortRules = PortalState(fake.ruleSet(family: .ipv4)).rules(in: .nodePortContainer)
        #expect(nodePortRules.map(\.destinationPort) == [30080], "the taken NodePort 30081 gets no rule")
        // Once the other program lets go, the next sync claims it and adds the rule.
        dataPlane.setTakenByOthers([])
        #expect(await controller.sync())
        #expect(
            PortalState(fake.ruleSet(family: .ipv4)).rules(in: .nodePortContainer).compactMap(\.destinationPort).sorted() == [30080, 30081])
    }
}
