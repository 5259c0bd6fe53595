import Foundation
import KubeProxyIPTables
import KubeProxyTesting

#if canImport(Glibc)
    import Glibc
#endif

/// The userspace-mode topology for issue 4's end-to-end checks, built from `NetworkLab`
/// namespaces: one node running the real `kube-proxy --proxy-mode userspace`, one client pod,
/// four backend pods running `example-backend`.
///
/// ```
///  client 10.100.1.2 ── 10.100.1.1 ┐
///                                  node eth0 10.100.0.10/24 (= HIP) ── 10.100.0.1 gw (default route)
///  bI 10.100.(10+I).2 ── 10.100.(10+I).1 ┘   I = 1…4, TCP :8080, UDP :5353
/// ```
///
/// Every pod's default route points at its node peer, so ClusterIPs, external IPs and the LB IP
/// all reach the node, where the proxy's portal rules catch them. Nothing touches the host's
/// namespace: all commands run through `NetworkLab.exec` / `start`, and `destroy()` kills every
/// process by PID and deletes every namespace (also from `deinit`).
final class UserspaceLab {
    /// The node's primary address (HIP): the proxy DNATs host traffic here.
    static let nodeIP = "10.100.0.10"
    /// The node's address on the client's link.
    static let nodeClientSideIP = "10.100.1.1"
    /// The client pod's address.
    static let clientIP = "10.100.1.2"
    /// The `web` / `dns` / `sticky` service-port names as the proxy logs them.
    static let webPort = "default/web:http", dnsPort = "default/dns:dns", stickyPort = "default/sticky:http"

    /// Backend `index`'s pod address (1-based).
    static func backendIP(_ index: Int) -> String { "10.100.\(10 + index).2" }

    let lab = NetworkLab()
    let node: String
    let client: String
    /// The backend pods' namespaces, b1…b4 in order.
    let pods: [String]
    let manifests: URL
    private(set) var proxy: ChildProcess?
    /// Proxy ports (PP) of the last started proxy, by service-port name.
    private(set) var proxyPorts: [String: Int] = [:]

    /// Builds the namespaces, starts four backends and writes the manifests (web, dns and
    /// sticky all on b1+b2). The proxy is started separately (`startProxy`). On failure
    /// everything made so far is removed before the error propagates (a class whose init throws
    /// never runs its deinit).
    init() async throws {
        let directory = try ProxyHarness.temporaryDirectory("kp-userspace")
        manifests = directory
        do {
            (node, client, pods) = try Self.buildTopology(lab)
        } catch {
            lab.destroy()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        do {
            for index in 1...4 { try await startBackend(index) }
            try writeManifest("services.yaml", [UserspaceManifests.web, UserspaceManifests.dns, UserspaceManifests.sticky])
            try setWebEndpoints([1, 2])
            try writeManifest("dns-slice.yaml", [UserspaceManifests.dnsSlice([1, 2])])
            try writeManifest("sticky-slice.yaml", [UserspaceManifests.stickySlice([1, 2])])
        } catch {
            destroy()
            throw error
        }
    }

    /// Creates node, gateway, client and b1…b4 with their links and routes; returns their names.
    static func buildTopology(_ lab: NetworkLab) throws -> (node: String, client: String, pods: [String]) {
        let node = try lab.addNamespace("node")
        try addUplink(lab, node: node)
        try lab.exec(node, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        let client = try lab.addNamespace("client")
        try lab.link(node, "\(nodeClientSideIP)/24", client, "\(clientIP)/24")
        try lab.exec(client, ["ip", "route", "add", "default", "via", nodeClientSideIP])
        var pods: [String] = []
        for index in 1...4 {
            let pod = try lab.addNamespace("b\(index)")
            pods.append(pod)
            try lab.link(node, "10.100.\(10 + index).1/24", pod, "\(backendIP(index))/24")
            try lab.exec(pod, ["ip", "route", "add", "default", "via", "10.100.\(10 + index).1"])
        }
        return (node, client, pods)
    }

    /// Starts `example-backend` named `bINDEX` in its pod (TCP :8080, UDP :5353) and waits until it listens.
    func startBackend(_ index: Int) async throws {
        let backend = try lab.start(
            pods[index - 1], BuiltProducts.path("example-backend"),
            ["--listen", "0.0.0.0:8080", "--udp-listen", "0.0.0.0:5353", "--name", "b\(index)"])
        guard await backend.waitForLine(where: { $0.contains("b\(index) listening on") }) != nil else {
            throw UserspaceLabError("backend b\(index) did not start: \(backend.output.suffix(5))")
        }
    }

    deinit { destroy() }

    /// Gives the node its primary NIC: `eth0` 10.100.0.10/24 with the default route via
    /// 10.100.0.1. A dummy interface would do, but this machine's kernel has no
    /// `dummy` driver ("Unknown device type"), so eth0 is a veth whose peer sits in a gateway
    /// namespace of the lab that holds 10.100.0.1 and goes nowhere. The pair is created inside
    /// the node namespace, as `NetworkLab.link` does, so no end ever sits in the host's.
    static func addUplink(_ lab: NetworkLab, node: String) throws {
        let gateway = try lab.addNamespace("gw")
        try lab.exec(node, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "uplink0", "netns", gateway])
        try lab.exec(node, ["ip", "addr", "add", "\(nodeIP)/24", "dev", "eth0"])
        try lab.exec(gateway, ["ip", "addr", "add", "10.100.0.1/24", "dev", "uplink0"])
        try lab.exec(node, ["ip", "link", "set", "eth0", "up"])
        try lab.exec(gateway, ["ip", "link", "set", "uplink0", "up"])
        try lab.exec(node, ["ip", "route", "add", "default", "via", "10.100.0.1", "dev", "eth0", "onlink"])
    }

    /// Kills everything and deletes the namespaces and the manifest directory. Idempotent.
    func destroy() {
        lab.destroy()
        try? FileManager.default.removeItem(at: manifests)
    }

    /// Writes `documents` as one multi-document YAML file, atomically.
    func writeManifest(_ name: String, _ documents: [String]) throws {
        try ProxyHarness.write(documents.joined(separator: "\n---\n") + "\n", to: manifests.appendingPathComponent(name))
    }

    /// Rewrites the `web` EndpointSlice to list exactly `backends`.
    func setWebEndpoints(_ backends: [Int]) throws {
        try writeManifest("web-slice.yaml", [UserspaceManifests.webSlice(backends)])
    }

    // MARK: The proxy

    /// The proxy's command line, per the brief.
    var proxyArguments: [String] {
        [
            "--manifests", manifests.path, "--proxy-mode", "userspace", "--iptables-min-sync-period", "100ms",
            "--udp-timeout", "500ms", "--hostname-override", "node-1",
            "--healthz-bind-address", "\(Self.nodeIP):10256", "--metrics-bind-address", "127.0.0.1:10249",
        ]
    }

    /// Starts `kube-proxy` in the node namespace and waits until all three service ports
    /// announce their proxy port; records the ports in `proxyPorts`. With `stdinClosed` the
    /// proxy starts with descriptor 0 closed (as some supervisors start daemons), so the first
    /// descriptor it opens becomes 0 and the tools it runs must still get their own stdin.
    @discardableResult
    func startProxy(stdinClosed: Bool = false) async throws -> ChildProcess {
        let binary = BuiltProducts.path("kube-proxy")
        // `exec` keeps the PID, so the process is still killed by the PID the lab recorded.
        let process =
            stdinClosed
            ? try lab.start(node, "/bin/sh", ["-c", "exec \"$0\" \"$@\" 0<&-", binary] + proxyArguments)
            : try lab.start(node, binary, proxyArguments)
        proxy = process
        var ports: [String: Int] = [:]
        for name in [Self.webPort, Self.dnsPort, Self.stickyPort] {
            guard let port = await ProxyHarness.waitForListener(process, servicePort: name) else {
                throw UserspaceLabError(
                    "proxy did not announce \(name); output:\n\(process.output.suffix(15).joined(separator: "\n"))")
            }
            ports[name] = port
        }
        proxyPorts = ports
        return process
    }

    /// SIGKILLs the running proxy (no chance to clean anything up) and waits for it to exit.
    func killProxy() async {
        guard let proxy else { return }
        proxy.send(SIGKILL)
        _ = await proxy.waitForExit(timeout: .seconds(5))
        self.proxy = nil
    }

    /// The last lines the proxy printed, for failure messages.
    var proxyTail: String { (proxy?.output.suffix(12) ?? []).joined(separator: "\n") }

    /// Starts the proxy and waits until its portal rules for all three Services are in place
    /// (polling iptables-save), so checks never race the first sync. Throws when they never
    /// appear, naming what was seen.
    func startProxyAndAwaitPortals(timeout: Duration = .seconds(5)) async throws {
        try await startProxy()
        let deadline = ContinuousClock.now + timeout
        var seen = IPTablesRuleSet()
        while ContinuousClock.now < deadline {
            seen = (try? iptablesSave()) ?? IPTablesRuleSet()
            let comments = Set(seen.rules(in: "KUBE-PORTALS-CONTAINER", table: "nat").compactMap { PortalRule($0)?.comment })
            if comments.isSuperset(of: [Self.webPort, Self.dnsPort, Self.stickyPort]) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw UserspaceLabError(
            "no portal rules for all three Services within \(timeout); KUBE-PORTALS-CONTAINER = "
                + "\(seen.rules(in: "KUBE-PORTALS-CONTAINER", table: "nat")); proxy output:\n\(proxyTail)")
    }

    // MARK: Probes and inspection

    /// Runs `kp-probe ARGS` in `ns` (the client by default); its output lines. Throws with the
    /// probe's own error line when it exits non-zero.
    func probe(_ arguments: [String], in ns: String? = nil) throws -> [String] {
        let output = try lab.exec(ns ?? client, [BuiltProducts.path("kp-probe")] + arguments)
        return output.split(separator: "\n").map(String.init)
    }

    /// `count` HTTP requests to `target`, each on a new connection; the backend names that answered.
    func backendsAnswering(_ target: String, count: Int, from ns: String? = nil) throws -> [String] {
        try probe(["http", target, "--count", "\(count)", "--close"], in: ns).map(Self.backendName)
    }

    /// `b2` from `hello from b2` (HTTP) or `b2 payload` (UDP echo).
    static func backendName(_ line: String) -> String {
        let trimmed = line.hasPrefix("hello from ") ? String(line.dropFirst("hello from ".count)) : line
        return String(trimmed.split(separator: " ").first ?? "")
    }

    /// The node's iptables state, parsed.
    func iptablesSave() throws -> IPTablesRuleSet {
        try IPTablesRuleSet(parsingSave: lab.exec(node, ["iptables-save"]))
    }

    /// Runs `kube-proxy --cleanup` in the node namespace; throws if it exits non-zero.
    @discardableResult
    func runCleanup() throws -> String {
        try lab.exec(node, [BuiltProducts.path("kube-proxy"), "--cleanup"])
    }

    /// Starts `kp-probe hold TARGET` in the client with its stdin on a FIFO, so the test can
    /// ask for one more request on the same connection at any time (`HeldConnection.next`).
    func hold(_ target: String) async throws -> HeldConnection {
        let fifo = manifests.deletingLastPathComponent().appendingPathComponent("kp-hold-\(lab.id)").path
        unlink(fifo)
        guard mkfifo(fifo, 0o600) == 0 else { throw UserspaceLabError("mkfifo \(fifo) failed") }
        // O_RDWR never blocks on a FIFO, so the writer exists before the probe opens it.
        let writer = open(fifo, O_RDWR)
        guard writer >= 0 else { throw UserspaceLabError("cannot open \(fifo)") }
        let process = try lab.start(
            client, "/bin/sh", ["-c", "exec \"$0\" hold \"$1\" < \"$2\"", BuiltProducts.path("kp-probe"), target, fifo])
        return HeldConnection(process: process, writer: writer, fifo: fifo)
    }
}

/// A `kp-probe hold` process: one keep-alive connection the test drives line by line.
final class HeldConnection {
    let process: ChildProcess
    private let writer: Int32
    private let fifo: String
    private var answered = 0
    private var closed = false

    init(process: ChildProcess, writer: Int32, fifo: String) {
        self.process = process
        self.writer = writer
        self.fifo = fifo
    }

    deinit { close() }

    /// The body of the next response (the first one is sent at start; later ones on request).
    func next() async -> String? {
        if answered > 0 {
            var newline: UInt8 = 10
            _ = write(writer, &newline, 1)
        }
        let line = await process.waitForLine(from: answered, timeout: .seconds(5)) { _ in true }
        if line != nil { answered += 1 }
        return line
    }

    /// Ends the probe (EOF on its stdin) and removes the FIFO.
    func close() {
        if closed { return }
        closed = true
        Glibc.close(writer)
        unlink(fifo)
        process.send(SIGKILL)
    }
}

/// A failure of the lab itself (setup, a process that never started), not of the proxy.
struct UserspaceLabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
