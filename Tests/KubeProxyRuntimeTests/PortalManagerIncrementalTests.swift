import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import Testing

@testable import KubeProxyRuntime

/// The steady-state path: a change writes only the changed service port's rules, anything
/// else writes nothing, and whatever happens the kernel ends equal to a full render.
struct PortalManagerIncrementalTests {
    typealias Base = PortalManagerTests

    /// A manager after its first two syncs (install, then the read that confirms the jumps),
    /// i.e. in the incremental steady state.
    func steadyManager(_ fake: FakeIPTables, _ ports: [PortalServicePort]) async throws -> PortalManager {
        let portals = PortalManager(
            executor: fake, renderer: Base.renderer, fullResyncPeriod: .seconds(3600), logger: Logger(label: "test"))
        try await portals.sync(ports)
        try await portals.sync(ports)
        return portals
    }

    /// The restore lines that are commands (not `*table` / `COMMIT`).
    func commandLines(_ input: String) -> [Substring] {
        input.split(separator: "\n").filter { !$0.hasPrefix("*") && $0 != "COMMIT" }
    }

    /// The portal chains of `ruleSet` as rule multisets (order across service ports is not kept
    /// by incremental updates and does not matter).
    static func portalRules(_ ruleSet: IPTablesRuleSet) -> [PortalChain: [PortalRule: Int]] {
        let state = PortalState(ruleSet)
        var result: [PortalChain: [PortalRule: Int]] = [:]
        for chain in PortalChain.allCases {
            guard let rules = state.chains[chain] else { continue }
            var counts: [PortalRule: Int] = [:]
            for rule in rules { counts[rule, default: 0] += 1 }
            result[chain] = counts
        }
        return result
    }

    /// Expects the fake's chains to hold exactly a full render of `ports`, nothing foreign, and
    /// every parent jump in place.
    @discardableResult
    func expectEqualToFullRender(_ fake: FakeIPTables, _ ports: [PortalServicePort], _ comment: Comment? = nil) -> Bool {
        let kernel = fake.ruleSet(family: .ipv4)
        let rulesMatch = Self.portalRules(kernel) == Self.portalRules(Base.renderer.render(ports))
        let clean = PortalState(kernel).unrecognized.isEmpty && JumpReconciler.script(current: kernel).isEmpty
        #expect(rulesMatch, comment)
        #expect(clean, comment)
        return rulesMatch && clean
    }

    @Test func anAddedServiceWritesOnlyItsOwnLines() async throws {
        let fake = FakeIPTables()
        let web = Base.port("web", ip: "10.96.0.10", proxyPort: 40001, nodePort: 30080)
        let portals = try await steadyManager(fake, [web])
        let restores = fake.restoreInputs(family: .ipv4).count
        let saves = fake.saveCount(family: .ipv4)
        let api = Base.port("api", ip: "10.96.0.11", proxyPort: 40002, nodePort: 30081)
        try await portals.sync([web, api])
        let inputs = fake.restoreInputs(family: .ipv4).dropFirst(restores)
        #expect(inputs.count == 1)
        let lines = commandLines(inputs.first ?? "")
        #expect(lines.count == Base.renderer.portalRules(for: api).count)
        #expect(lines.allSatisfy { $0.hasPrefix("-A ") && $0.contains("default/api:http") }, "\(lines)")
        #expect(fake.saveCount(family: .ipv4) == saves, "the steady state reads nothing")
        expectEqualToFullRender(fake, [web, api])
    }

    @Test func aRemovedServiceDeletesOnlyItsOwnRules() async throws {
        let fake = FakeIPTables()
        let web = Base.port("web", ip: "10.96.0.10", proxyPort: 40001, nodePort: 30080)
        let api = Base.port("api", ip: "10.96.0.11", proxyPort: 40002)
        let portals = try await steadyManager(fake, [web, api])
        let restores = fake.restoreInputs(family: .ipv4).count
        try await portals.sync([api])
        let inputs = fake.restoreInputs(family: .ipv4).dropFirst(restores)
        #expect(inputs.count == 1)
        let lines = commandLines(inputs.first ?? "")
        #expect(lines.count == Base.renderer.portalRules(for: web).count)
        #expect(lines.allSatisfy { $0.hasPrefix("-D ") && $0.contains("default/web:http") }, "\(lines)")
        expectEqualToFullRender(fake, [api])
    }

    @Test func aNoOpSyncRunsNoProcess() async throws {
        let fake = FakeIPTables()
        let ports = [Base.port("web", ip: "10.96.0.10", proxyPort: 40001, nodePort: 30080)]
        let portals = try await steadyManager(fake, ports)
        let (restores, saves) = (fake.restoreInputs(family: .ipv4).count, fake.saveCount(family: .ipv4))
        for _ in 0..<3 { try await portals.sync(ports) }
        #expect(fake.restoreInputs(family: .ipv4).count == restores)
        #expect(fake.saveCount(family: .ipv4) == saves)
    }

    @Test func anEndpointChangeRunsNoProcess() async throws {
        let fake = FakeIPTables()
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: FakeUserspaceDataPlane(),
            portals: PortalManager(
                executor: fake, renderer: Base.renderer, fullResyncPeriod: .seconds(3600), logger: Logger(label: "test")),
            logger: Logger(label: "test"))
        let slice = ProxyControllerTests.slice("web-1", service: "web", endpoints: [("10.0.1.1", true, nil, nil)])
        _ = await controller.handle(.service(.added(ProxyControllerTests.service("web"))))
        _ = await controller.handle(.endpointSlice(.added(slice)))
        _ = await controller.handle(.synced)
        #expect(await controller.sync())
        #expect(await controller.sync(), "confirms the jumps")
        let (restores, saves) = (fake.restoreInputs(family: .ipv4).count, fake.saveCount(family: .ipv4))
        let moved = ProxyControllerTests.slice(
            "web-1", service: "web", endpoints: [("10.0.1.1", true, nil, nil), ("10.0.1.2", true, nil, nil)])
        #expect(await controller.handle(.endpointSlice(.updated(old: slice, new: moved))))
        #expect(await controller.sync())
        #expect(await controller.snapshot.endpoints(for: ProxyControllerTests.web).count == 2, "the change was applied")
        #expect(fake.restoreInputs(family: .ipv4).count == restores)
        #expect(fake.saveCount(family: .ipv4) == saves)
    }

    @Test func aFailedIncrementalRestoreIsFollowedByAFullReadAndRewrite() async throws {
        let fake = FakeIPTables()
        let web = Base.port("web", ip: "10.96.0.10", proxyPort: 40001)
        let api = Base.port("api", ip: "10.96.0.11", proxyPort: 40002)
        let portals = try await steadyManager(fake, [web])
        fake.failNextRestore(with: HostError(.exitStatus(1), command: ["iptables-restore"], stderr: "boom"))
        await #expect(throws: HostError.self) { try await portals.sync([web, api]) }
        // Meanwhile someone flushes a chain: only a full sync can notice.
        var kernel = fake.ruleSet(family: .ipv4)
        kernel.setChain(IPTablesChain(name: PortalChain.portalsHost.rawValue), in: "nat")
        fake.setRuleSet(kernel, family: .ipv4)
        let (restores, saves) = (fake.restoreInputs(family: .ipv4).count, fake.saveCount(family: .ipv4))
        try await portals.sync([web, api])
        #expect(fake.saveCount(family: .ipv4) == saves + 1)
        let inputs = fake.restoreInputs(family: .ipv4).dropFirst(restores)
        #expect(inputs.count == 1)
        #expect(inputs.first?.contains(":\(PortalChain.portalsHost.rawValue) - [0:0]") == true, "a full rewrite")
        expectEqualToFullRender(fake, [web, api])
    }

    @Test func theFullResyncPeriodReadsTheKernelAndRepairsWhatOthersChanged() async throws {
        let fake = FakeIPTables()
        let web = Base.port("web", ip: "10.96.0.10", proxyPort: 40001)
        let portals = PortalManager(executor: fake, renderer: Base.renderer, fullResyncPeriod: .zero, logger: Logger(label: "test"))
        try await portals.sync([web])
        var kernel = fake.ruleSet(family: .ipv4)
        kernel.setChain(IPTablesChain(name: PortalChain.portalsContainer.rawValue), in: "nat")
        fake.setRuleSet(kernel, family: .ipv4)
        try await portals.sync([web])
        expectEqualToFullRender(fake, [web])
    }

    /// Random sequences of changes, failures and foreign edits: after every sync the kernel
    /// holds exactly the full render of the ports the sync was given.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomChangesAlwaysEndEqualToAFullRender(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let fake = FakeIPTables()
        let portals = PortalManager(
            executor: fake, renderer: Base.renderer, fullResyncPeriod: .seconds(3600), logger: Logger(label: "test"))
        var ports: [Int: PortalServicePort] = [:]
        var proxyPort = 40000
        func randomPort(_ index: Int) -> PortalServicePort {
            proxyPort += 1
            var servicePort = ServicePort(
                name: ServicePortName(namespace: "ns", name: "svc-\(index)", port: "p"),
                clusterIP: .v4(0x0A60_0000 + UInt32(Int.random(in: 1...40, using: &rng))), port: Int.random(in: 80...82, using: &rng),
                nodePort: Bool.random(using: &rng) ? 30000 + index : 0)
            if Int.random(in: 0..<4, using: &rng) == 0 { servicePort.externalIPs = [.v4(0xCB00_7100 + UInt32(index))] }
            if Int.random(in: 0..<4, using: &rng) == 0 { servicePort.loadBalancerIPs = [.v4(0xC633_6400 + UInt32(index))] }
            return PortalServicePort(servicePort: servicePort, proxyPort: Int.random(in: 0..<10, using: &rng) == 0 ? 0 : proxyPort)
        }
        for step in 0..<150 {
            let index = Int.random(in: 0..<12, using: &rng)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...3: ports[index] = randomPort(index)
            case 4...5: ports[index] = nil
            case 6: ports[index]?.proxyPort += 1000
            case 7: ports[index]?.servicePort.sessionAffinity = .clientIP(timeoutSeconds: step + 1)
            case 8: fake.failNextRestore(with: HostError(.exitStatus(1), command: ["iptables-restore"], stderr: "injected"))
            default:
                var kernel = fake.ruleSet(family: .ipv4)
                if let nat = kernel.table(named: "nat"), let chain = nat.chains.randomElement(using: &rng), !chain.rules.isEmpty {
                    var changed = chain
                    changed.rules.removeLast()
                    kernel.setChain(changed, in: "nat")
                    fake.setRuleSet(kernel, family: .ipv4)
                }
                // A foreign edit is only noticed by a full sync; force one the way a restart would.
                await portals.requireFullSync()
            }
            let input = Array(ports.values)
            // Retries as the scheduler would; an injected failure waits for the next restore,
            // so two may hit in a row.
            var attempts = 0
            while true {
                do {
                    try await portals.sync(input)
                    break
                } catch {
                    attempts += 1
                    if attempts == 3 { throw error }
                }
            }
            // Stop at the first divergence: later steps would only repeat it.
            guard expectEqualToFullRender(fake, input, "seed \(seed) step \(step)") else { break }
        }
    }
}
