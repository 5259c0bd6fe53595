import Foundation
import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the real-kernel tests need, and what is missing on this machine.
enum Prerequisites {
    static let runner = CommandRunner()

    /// Missing pieces for tests that run iptables inside a fresh network namespace.
    static let missingForIPTables: [String] = missing(["ip", "iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore"])
    /// Missing pieces for tests that run conntrack inside a fresh network namespace.
    static let missingForConntrack: [String] = missing(["ip", "conntrack"])

    static func missing(_ tools: [String]) -> [String] {
        (geteuid() == 0 ? [] : ["root privileges"]) + tools.filter { runner.locate($0) == nil }
    }

    /// The skip message Swift Testing records when a test is disabled.
    static func skipMessage(_ missing: [String]) -> Comment {
        Comment(rawValue: "skipped: needs root, iproute2 and the tools; missing here: \(missing.joined(separator: ", "))")
    }
}

/// Runs `body` inside a new network namespace `kp-test-<random>` and deletes the namespace on
/// every exit path, also when `body` throws. Never touches the host's own namespace.
func withTestNamespace<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
    let name = "kp-test-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    let runner = CommandRunner()
    _ = try await runner.run("ip", ["netns", "add", name]).checked()
    do {
        let result = try await body(name)
        _ = try await runner.run("ip", ["netns", "delete", name]).checked()
        return result
    } catch {
        _ = try? await runner.run("ip", ["netns", "delete", name])
        throw error
    }
}

/// Parses an address literal (tests only).
func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

/// A small set of service ports exercising every rule kind.
func samplePorts(family: IPFamily) -> [PortalServicePort] {
    let v4 = family == .ipv4
    let web = ServicePort(
        name: ServicePortName(namespace: "ns", name: "web", port: "http"), clusterIP: ip(v4 ? "10.96.0.10" : "fd00:96::a"), port: 80,
        nodePort: 30080, externalIPs: [ip(v4 ? "203.0.113.9" : "2001:db8::9")], loadBalancerIPs: [ip(v4 ? "198.51.100.4" : "2001:db8::4")])
    let dns = ServicePort(
        name: ServicePortName(namespace: "kube-system", name: "dns", port: "dns", protocol: .udp),
        clusterIP: ip(v4 ? "10.96.0.53" : "fd00:96::35"), port: 53)
    return [PortalServicePort(servicePort: web, proxyPort: 40000), PortalServicePort(servicePort: dns, proxyPort: 40001)]
}

/// The renderer used with `samplePorts`, with a wildcard listen address.
func sampleRenderer(family: IPFamily) -> UserspacePortalRenderer {
    family == .ipv4
        ? UserspacePortalRenderer(listenIP: ip("0.0.0.0"), hostIP: ip("192.168.1.5"), family: .ipv4)
        : UserspacePortalRenderer(listenIP: ip("::"), hostIP: ip("fd00::2"), family: .ipv6)
}

/// One sync against `executor`: save, parse, render, restore. Returns the script it ran.
@discardableResult
func sync(_ executor: some IPTablesExecutor, family: IPFamily, ports: [PortalServicePort]) async throws -> IPTablesRestoreScript {
    let current = try IPTablesRuleSet(parsingSave: try await executor.save(family: family))
    let script = UserspacePortalRenderer.restoreScript(desired: sampleRenderer(family: family).render(ports), current: current)
    try await executor.restore(script.text, family: family)
    return script
}

/// Parsed `save` output.
func savedState(_ executor: some IPTablesExecutor, family: IPFamily) async throws -> IPTablesRuleSet {
    try IPTablesRuleSet(parsingSave: try await executor.save(family: family))
}
