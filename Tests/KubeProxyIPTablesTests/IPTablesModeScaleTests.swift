import Foundation
import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// Scale measurement (not a pass/fail timing): `IPTABLES_SCALE=1 swift test --filter
/// IPTablesModeScaleTests` renders `IPTABLES_SCALE_SERVICES` (10k) Services × 10 endpoints, a
/// full sync and a one-endpoint partial sync, and prints our time and the restore size; with
/// `IPTABLES_SCALE_RESTORE=1` (as root) it also feeds the full restore to the real
/// `iptables-restore` in a fresh namespace and prints that time separately. Skipped unless
/// `IPTABLES_SCALE` is set.
@Suite struct IPTablesModeScaleTests {
    static var enabled: Bool { ProcessInfo.processInfo.environment["IPTABLES_SCALE"] == "1" }
    static var services: Int { ProcessInfo.processInfo.environment["IPTABLES_SCALE_SERVICES"].flatMap { Int($0) } ?? 10_000 }
    static var restore: Bool { ProcessInfo.processInfo.environment["IPTABLES_SCALE_RESTORE"] == "1" }

    static func snapshot(services: Int, endpoints: Int, shift: Int = 0) -> ProxySnapshot {
        var ports: [ServicePortName: ServicePort] = [:]
        var lists: [ServicePortName: [Endpoint]] = [:]
        for index in 0..<services {
            let name = portName("ns\(index % 100)", "svc\(index)")
            ports[name] = ServicePort(name: name, clusterIP: .v4(0xac1e_0000 + UInt32(index)), port: 80)
            lists[name] = (0..<endpoints).map {
                Endpoint(ip: .v4(0x0a00_0000 + UInt32(index * endpoints + $0 + (index == 0 ? shift : 0))), port: 8080)
            }
        }
        return ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: lists)
    }

    @Test(.enabled(if: enabled)) func servicesTimesTenEndpoints() throws {
        let clock = ContinuousClock()
        var state = IPTablesModeState(parameters: UpstreamFixture.parameters())
        let first = Self.snapshot(services: Self.services, endpoints: 10)
        var plan: IPTablesModeSyncPlan?
        let fullPlan = clock.measure { plan = state.plan(snapshot: first) }
        var text = ""
        let fullText = clock.measure { text = plan!.text }
        state.didApply(plan!)
        var restoreTime = "not run (IPTABLES_SCALE_RESTORE=1, as root)"
        if Self.restore, NetworkLab.unavailableReason == nil {
            let lab = NetworkLab()
            defer { lab.destroy() }
            let ns = try lab.addNamespace("scale")
            let measured = try clock.measure {
                try lab.exec(ns, ["iptables-restore", "-w", "5", "-W", "100000", "--noflush", "--counters"], input: text)
            }
            restoreTime = "\(measured)"
        }
        let second = Self.snapshot(services: Self.services, endpoints: 10, shift: 100_000_000)
        var partial: IPTablesModeSyncPlan?
        let partialPlan = clock.measure { partial = state.plan(snapshot: second) }
        var partialText = ""
        let partialTextTime = clock.measure { partialText = partial!.text }
        print(
            """
            iptables scale \(Self.services)×10: full plan \(fullPlan), text \(fullText), \(plan!.counts.restoreLines) lines \
            (\(text.utf8.count / 1024) KiB), iptables-restore \(restoreTime); partial plan \(partialPlan), text \(partialTextTime), \
            \(partial!.counts.restoreLines) lines (\(partialText.utf8.count / 1024) KiB), rewritten \(partial!.rewrittenServicePorts.count)
            """)
        #expect(partial!.rewrittenServicePorts.count == 1)
        #expect(!partial!.isFullSync)
    }
}
