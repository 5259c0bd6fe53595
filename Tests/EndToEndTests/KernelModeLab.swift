import Foundation
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The topology for the kernel modes' (nftables, iptables) end-to-end checks, built from
/// `NetworkLab` namespaces with no link to the host: a node running the real
/// `kube-proxy --proxy-mode MODE`, two pods on it, a second node with one pod, and two external
/// clients (one inside a LoadBalancer source range, one outside it). Dual-stack throughout.
///
/// ```
///  ext  (203.0.113.2, 2600:5200::1) ── 192.168.0.1 / 2001:db8::2 ┐
///  extb (203.0.113.130)             ── 192.168.2.2               ┤
///                                                 node-1 (192.168.0.2, 2001:db8::1; 192.168.1.2)
///  pod1 10.180.1.2 / fd00:10:1::2 ── 10.180.1.1 ┤                │
///  pod2 10.180.2.2 / fd00:10:2::2 ── 10.180.2.1 ┘                └─ 192.168.1.3 node-2 ── pod3 10.180.3.2 / fd00:10:3::2
/// ```
///
/// Every pod runs `example-backend --echo-client` (TCP 8080 and UDP 5353, both families; the answer
/// names the backend and the client address it saw, so a test can tell a masqueraded flow from
/// one that kept its source). External clients reach Service addresses through their default
/// route to the node; their source address is set by the route (`src`), so no tool needs a bind
/// option. The cluster CIDR (local-traffic detection) is 10.0.0.0/8 and fd00:10::/32.
final class KernelModeLab {
    /// The node's primary addresses (on the external link).
    static let nodeIP = "192.168.0.2", nodeIPv6 = "2001:db8::1"
    /// The node's address towards node-2 (a secondary node IP).
    static let nodeAltIP = "192.168.1.2"
    /// The external client inside the source range 203.0.113.0/25, and the one outside it.
    static let externalClient = "203.0.113.2", blockedClient = "203.0.113.130"
    /// The external client's IPv6 address.
    static let externalClientIPv6 = "2600:5200::1"
    /// Pod `index`'s addresses (1 and 2 on node-1, 3 on node-2).
    static func podIP(_ index: Int) -> String { "10.180.\(index).2" }
    static func podIPv6(_ index: Int) -> String { "fd00:10:\(index)::2" }
    /// The node each pod runs on, as EndpointSlices name it.
    static func podNode(_ index: Int) -> String { index == 3 ? "node-2" : "node-1" }
    /// `--cluster-cidr` for both families.
    static let clusterCIDR = "10.0.0.0/8,fd00:10::/32"

    let lab = NetworkLab()
    let node: String, node2: String, external: String, blocked: String
    /// pod1, pod2, pod3 in order.
    let pods: [String]
    let manifests: URL
    private(set) var proxy: ChildProcess?

    /// Builds the namespaces and starts the backends; on failure removes everything made so far
    /// before the error propagates (a throwing init never runs deinit).
    init() async throws {
        manifests = try ProxyHarness.temporaryDirectory("kp-kernel")
        do {
            (node, node2, external, blocked, pods) = try Self.buildTopology(lab)
            for index in 1...3 { try await startBackends(index) }
        } catch {
            lab.destroy()
            try? FileManager.default.removeItem(at: manifests)
            throw error
        }
    }

    /// A lab, or the test cancelled with the reason it cannot run here: not root, no `ip`, or a
    /// missing tool of `tools` (name → Debian package).
    static func make(needing tools: KeyValuePairs<String, String> = [:]) async throws -> KernelModeLab {
        if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
        let missing = tools.filter { NetworkLab.which($0.key) == nil }
        if !missing.isEmpty {
            try Test.cancel(
                Comment(
                    rawValue: "not installed: "
                        + missing.map { "\($0.key) (package \($0.value))" }.joined(separator: ", ")))
        }
        return try await KernelModeLab()
    }

    deinit { destroy() }

    /// Kills every process and deletes the namespaces and the manifest directory. Idempotent.
    func destroy() {
        lab.destroy()
        try? FileManager.default.removeItem(at: manifests)
    }

    static func buildTopology(_ lab: NetworkLab) throws -> (String, String, String, String, [String]) {
        let node = try lab.addNamespace("node")
        let node2 = try lab.addNamespace("node2")
        let external = try lab.addNamespace("ext")
        let blocked = try lab.addNamespace("extb")
        for ns in [node, node2] {
            try lab.exec(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try lab.exec(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
        }
        // node-1 ↔ ext: the node's primary addresses; the external client's addresses are
        // routed through its link and used as the source of everything it sends.
        try link(lab, node, ["\(nodeIP)/24", "\(nodeIPv6)/64"], external, ["192.168.0.1/24", "2001:db8::2/64"])
        try lab.exec(external, ["ip", "addr", "add", "\(externalClient)/32", "dev", "lo"])
        try lab.exec(external, ["ip", "-6", "addr", "add", "\(externalClientIPv6)/128", "dev", "lo", "nodad"])
        try lab.exec(external, ["ip", "route", "add", "default", "via", nodeIP, "src", externalClient])
        try lab.exec(external, ["ip", "-6", "route", "add", "default", "via", nodeIPv6, "src", externalClientIPv6])
        try lab.exec(node, ["ip", "route", "add", "203.0.113.0/25", "via", "192.168.0.1"])
        try lab.exec(node, ["ip", "-6", "route", "add", "2600:5200::/64", "via", "2001:db8::2"])
        // node-1 ↔ extb: a client outside the LoadBalancer source range.
        try link(lab, node, ["192.168.2.1/24"], blocked, ["192.168.2.2/24"])
        try lab.exec(blocked, ["ip", "addr", "add", "\(blockedClient)/32", "dev", "lo"])
        try lab.exec(blocked, ["ip", "route", "add", "default", "via", "192.168.2.1", "src", blockedClient])
        try lab.exec(node, ["ip", "route", "add", "203.0.113.128/25", "via", "192.168.2.2"])
        // node-1 ↔ node-2, and node-2's pod behind it.
        try link(lab, node, ["\(nodeAltIP)/24", "2001:db8:1::2/64"], node2, ["192.168.1.3/24", "2001:db8:1::3/64"])
        try lab.exec(node2, ["ip", "route", "add", "default", "via", nodeAltIP])
        try lab.exec(node2, ["ip", "-6", "route", "add", "default", "via", "2001:db8:1::2"])
        try lab.exec(node, ["ip", "route", "add", "10.180.3.0/24", "via", "192.168.1.3"])
        try lab.exec(node, ["ip", "-6", "route", "add", "fd00:10:3::/64", "via", "2001:db8:1::3"])
        var pods: [String] = []
        for index in 1...3 {
            let pod = try lab.addNamespace("pod\(index)")
            pods.append(pod)
            let host = index == 3 ? node2 : node
            try link(
                lab, host, ["10.180.\(index).1/24", "fd00:10:\(index)::1/64"], pod, ["\(podIP(index))/24", "\(podIPv6(index))/64"])
            try lab.exec(pod, ["ip", "route", "add", "default", "via", "10.180.\(index).1"])
            try lab.exec(pod, ["ip", "-6", "route", "add", "default", "via", "fd00:10:\(index)::1"])
        }
        return (node, node2, external, blocked, pods)
    }

    /// A veth pair between `a` and `b` with the given addresses (IPv6 ones without DAD, so they
    /// are usable at once).
    static func link(_ lab: NetworkLab, _ a: String, _ addressesA: [String], _ b: String, _ addressesB: [String]) throws {
        try lab.link(a, addressesA[0], b, addressesB[0])
        let (ifA, ifB) = try (interface(lab, a, holding: addressesA[0]), interface(lab, b, holding: addressesB[0]))
        for address in addressesA.dropFirst() { try addAddress(lab, a, address, ifA) }
        for address in addressesB.dropFirst() { try addAddress(lab, b, address, ifB) }
    }

    private static func addAddress(_ lab: NetworkLab, _ ns: String, _ address: String, _ interface: String) throws {
        try lab.exec(ns, ["ip", "addr", "add", address, "dev", interface] + (address.contains(":") ? ["nodad"] : []))
    }

    private static func interface(_ lab: NetworkLab, _ ns: String, holding address: String) throws -> String {
        let output = try lab.exec(ns, ["ip", "-o", "addr", "show", "to", address])
        guard let name = output.split(separator: " ").dropFirst().first else {
            throw KernelModeLabError("no interface holds \(address) in \(ns)")
        }
        return String(name.split(separator: "@").first ?? name)
    }

    /// Starts pod `index`'s backend (`pINDEX`, TCP 8080 and UDP 5353 on `[::]`, which serves
    /// both families; IPv4 clients appear as `::ffff:a.b.c.d` and are reported as `a.b.c.d`)
    /// and waits until it listens.
    func startBackends(_ index: Int) async throws {
        let backend = try lab.start(
            pods[index - 1], BuiltProducts.path("example-backend"),
            ["--listen", "[::]:8080", "--udp-listen", "[::]:5353", "--name", "p\(index)", "--echo-client"])
        guard await backend.waitForLine(where: { $0.contains("p\(index) listening on") }) != nil else {
            throw KernelModeLabError("backend p\(index) did not start: \(backend.output.suffix(5))")
        }
    }

    // MARK: Manifests and the proxy

    /// Writes `documents` as one multi-document YAML file, atomically.
    func writeManifest(_ name: String, _ documents: [String]) throws {
        try ProxyHarness.write(documents.joined(separator: "\n---\n") + "\n", to: manifests.appendingPathComponent(name))
    }

    /// Removes a manifest file.
    func removeManifest(_ name: String) throws {
        try FileManager.default.removeItem(at: manifests.appendingPathComponent(name))
    }

    /// The proxy's command line for `mode`, plus `extra` flags.
    func proxyArguments(mode: String, extra: [String] = []) -> [String] {
        [
            "--proxy-mode", mode, "--manifests", manifests.path, "--hostname-override", "node-1",
            "--cluster-cidr", Self.clusterCIDR, "--iptables-min-sync-period", "0s",
            "--healthz-bind-address", "\(Self.nodeIP):10256", "--metrics-bind-address", "127.0.0.1:10249",
        ] + extra
    }

    /// Starts `kube-proxy` in the node namespace and waits for its first complete sync.
    @discardableResult
    func startProxy(mode: String, extra: [String] = [], timeout: Duration = .seconds(10)) async throws -> ChildProcess {
        let process = try lab.start(node, BuiltProducts.path("kube-proxy"), proxyArguments(mode: mode, extra: extra))
        proxy = process
        guard await process.waitForLine(timeout: timeout, where: { $0.contains("first sync complete") }) != nil else {
            throw KernelModeLabError("proxy never completed its first sync; output:\n\(proxyTail)")
        }
        return process
    }

    /// SIGKILLs the running proxy and waits for it to exit.
    func killProxy() async {
        guard let proxy else { return }
        proxy.send(SIGKILL)
        _ = await proxy.waitForExit(timeout: .seconds(5))
        self.proxy = nil
    }

    /// The last lines the proxy printed, for failure messages.
    var proxyTail: String { (proxy?.output.suffix(15) ?? []).joined(separator: "\n") }

    // MARK: Probes

    /// One answer: which backend, and the client address it saw.
    struct Answer: Hashable, CustomStringConvertible {
        var backend: String
        var client: String
        var description: String { "\(backend) saw \(client)" }
    }

    /// What a probe got: answers, or a failure with the probe's message and how long it took
    /// (a REJECT fails at once, a DROP only when the probe gives up).
    enum Outcome: CustomStringConvertible {
        case answered([Answer])
        case failed(message: String, after: Duration)

        var answers: [Answer] {
            if case .answered(let answers) = self { return answers }
            return []
        }
        /// Refused at once (REJECT: RST or ICMP unreachable).
        var isRefused: Bool {
            if case .failed(_, let after) = self { return after < .milliseconds(1500) }
            return false
        }
        /// Failed only after the probe's timeout (DROP).
        var isTimedOut: Bool {
            if case .failed(_, let after) = self { return after >= .milliseconds(1500) }
            return false
        }
        var description: String {
            switch self {
            case .answered(let answers): "answered \(answers)"
            case .failed(let message, let after): "failed after \(after): \(message)"
            }
        }
    }

    /// `count` HTTP requests, each on a new connection, from namespace `ns` to `target`
    /// (`IP:PORT` or `[v6]:PORT`).
    func http(from ns: String, _ target: String, count: Int = 1) -> Outcome {
        run(ns, ["http", target, "--count", "\(count)", "--close"])
    }

    /// `count` UDP datagrams from one socket (one flow), from `ns` to `target`.
    func udp(from ns: String, _ target: String, count: Int = 1, sourcePort: Int = 0) -> Outcome {
        run(ns, ["udp", target, "x", "--count", "\(count)", "--source-port", "\(sourcePort)", "--timeout-ms", "2000"])
    }

    private func run(_ ns: String, _ arguments: [String]) -> Outcome {
        let started = ContinuousClock.now
        do {
            let output = try lab.exec(ns, [BuiltProducts.path("kp-probe")] + arguments)
            return .answered(output.split(separator: "\n").map { Self.answer(String($0)) })
        } catch {
            return .failed(message: "\(error)", after: ContinuousClock.now - started)
        }
    }

    /// Parses `hello from p1 client=10.180.1.2` (HTTP) or `p1 client=10.180.1.2 x` (UDP).
    static func answer(_ line: String) -> Answer {
        let words = (line.hasPrefix("hello from ") ? String(line.dropFirst("hello from ".count)) : line)
            .split(separator: " ")
        var client = words.first { $0.hasPrefix("client=") }.map { String($0.dropFirst("client=".count)) } ?? ""
        if client.hasPrefix("::ffff:") && client.contains(".") { client = String(client.dropFirst("::ffff:".count)) }
        return Answer(backend: words.first.map(String.init) ?? "", client: client)
    }

    /// Forgets every conntrack entry on the node (between cases: affinity and NAT decisions
    /// would otherwise persist).
    func flushConntrack() throws {
        _ = try? lab.exec(node, ["conntrack", "-F"])
        _ = try? lab.exec(node, ["conntrack", "-F", "-f", "ipv6"])
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes.
    func eventually(timeout: Duration = .seconds(5), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }
}

/// A failure of the lab itself (setup, a process that never started), not of the proxy.
struct KernelModeLabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
