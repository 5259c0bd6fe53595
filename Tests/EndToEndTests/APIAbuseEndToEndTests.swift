import Foundation
import KubeProxyTesting
import Testing

/// The real `kube-proxy` binary against abuse from its API server configuration and from the
/// server itself: secrets in server URLs never reach the output, and an endless watch line costs
/// a logged error and a relist, not memory. Plain HTTP on loopback only.
@Suite(.serialized)
struct APIAbuseEndToEndTests {
    static let password = "s3cr3tpass"

    /// Our environment without anything that points the proxy at another API server, and a
    /// `HOME` without `~/.kube/config`.
    static func isolatedEnvironment(home: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"] {
            environment.removeValue(forKey: name)
        }
        environment["HOME"] = home
        return environment
    }

    static func startProxy(_ arguments: [String], home: String) throws -> ChildProcess {
        try ChildProcess(
            executable: BuiltProducts.path("kube-proxy"),
            arguments: arguments + [
                "--hostname-override", "node-1", "--bind-address", "127.0.0.1", "--userspace-portals=false",
                "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
            ],
            environment: isolatedEnvironment(home: home))
    }

    /// `VmHWM` (peak resident set) of `pid` in KiB, from `/proc`.
    static func peakResidentKiB(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return line.flatMap { Int($0.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") }
    }

    @Test func aPasswordInTheMasterURLNeverReachesTheOutput() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try await HostileAPIServer.start(.init())
        let master = "http://user:\(Self.password)@127.0.0.1:\(server.port)"
        let proxy = try Self.startProxy(["--master", master, "-v", "6"], home: dir.path)
        let status = await proxy.waitForExit(timeout: .seconds(10))
        if status == nil { await proxy.terminate() }
        await server.shutdown()
        let output = proxy.output
        #expect(status == 1, "a --master with user info must be refused at start: \(output.suffix(5))")
        #expect(!output.contains { $0.contains(Self.password) }, "the password appeared in the output")
        #expect(output.contains { $0.contains("REDACTED@127.0.0.1:\(server.port)") && $0.contains("basic auth") })
        #expect(server.counts("/api/v1/services").gets == 0, "no request may go out with a refused URL")

        // --write-config-to writes the effective configuration, which has no field for the master.
        let written = dir.appendingPathComponent("effective.yaml").path
        let writer = try Self.startProxy(["--master", master, "--write-config-to", written], home: dir.path)
        #expect(await writer.waitForExit(timeout: .seconds(10)) == 0)
        let text = try String(contentsOfFile: written, encoding: .utf8)
        #expect(!text.contains(Self.password))
        #expect(!writer.output.contains { $0.contains(Self.password) })
    }

    @Test func aPasswordInAKubeconfigServerNeverReachesTheOutput() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let kubeconfig = dir.appendingPathComponent("kubeconfig")
        try ProxyHarness.write(
            """
            apiVersion: v1
            kind: Config
            current-context: c
            contexts: [{name: c, context: {cluster: k, user: u}}]
            clusters: [{name: k, cluster: {server: "http://admin:\(Self.password)@127.0.0.1:1"}}]
            users: [{name: u, user: {token: t}}]
            """, to: kubeconfig)
        let proxy = try Self.startProxy(["--kubeconfig", kubeconfig.path, "-v", "6"], home: dir.path)
        let status = await proxy.waitForExit(timeout: .seconds(10))
        if status == nil { await proxy.terminate() }
        let output = proxy.output
        #expect(status == 1, "a server with user info must be refused at start: \(output.suffix(5))")
        #expect(!output.contains { $0.contains(Self.password) }, "the password appeared in the output")
        #expect(
            output.contains {
                $0.contains("clusters[0].cluster.server") && $0.contains("http://REDACTED@127.0.0.1:1")
            })
    }

    @Test func anEndlessWatchLineCostsALoggedErrorAndARelistNotMemory() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Each endless stream stops at 64 MiB anyway, so a proxy without a limit still ends.
        let server = try await HostileAPIServer.start(.init(endlessWatchPaths: ["/api/v1/services"], streamCap: 64 << 20))
        let proxy = try Self.startProxy(["--master", server.url], home: dir.path)
        var peak = 0
        let deadline = ContinuousClock.now + .seconds(20)
        var refusals: [String] = []
        while ContinuousClock.now < deadline, proxy.isRunning {
            peak = max(peak, Self.peakResidentKiB(proxy.pid) ?? 0)
            refusals = proxy.output.filter { $0.contains("watch event larger than the 16 MiB limit") }
            if refusals.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        peak = max(peak, Self.peakResidentKiB(proxy.pid) ?? 0)
        let lists = server.counts("/api/v1/services").gets
        let streamed = server.bytesStreamed
        await proxy.terminate()
        await server.shutdown()
        print("endless watch line: \(refusals.count) refusals, \(lists) lists, \(streamed >> 20) MiB streamed, VmHWM \(peak >> 10) MiB")
        #expect(refusals.count >= 2, "the limit error was not logged twice: \(proxy.output.suffix(10))")
        #expect(refusals.allSatisfy { $0.contains("relisting in") })
        #expect(lists >= 2, "the proxy did not relist after the refused event")
        #expect(peak > 0 && peak < 300 << 10, "peak RSS \(peak) KiB")
    }
}
