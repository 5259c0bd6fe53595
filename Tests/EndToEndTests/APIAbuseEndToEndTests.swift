import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// The real `kube-proxy` binary against abuse from its API server configuration and from the
/// server itself: secrets in server URLs are used (as basic auth) but never reach the output, and an endless watch line costs
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

    /// The basic-auth header a URL with user `user` and ``password`` makes.
    static var basicAuthorization: String { "Basic " + Data("user:\(password)".utf8).base64EncodedString() }

    /// Lines mentioning user info in the server URL (the one start-up warning).
    static func userInfoWarnings(_ output: [String]) -> [String] {
        output.filter { $0.contains("carries user info") }
    }

    @Test func aPasswordInTheMasterURLIsSentAsBasicAuthButNeverReachesTheOutput() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try await FakeAPIServer.start()
        let backend = try await ProxyHarness.startBackend(name: "backend-a")
        let master = "http://user:\(Self.password)@127.0.0.1:\(server.port)"
        let proxy = try Self.startProxy(["--master", master, "-v", "6", "--iptables-min-sync-period", "100ms"], home: dir.path)
        do {
            let synced = await proxy.waitForLine(timeout: .seconds(15)) { $0.contains("initial Services and endpoints loaded") }
            try #require(synced != nil, "never synced with the API server: \(proxy.output.suffix(10))")
            _ = try server.create(APIServerEndToEndTests.slice("web-a", service: "web", port: backend.port))
            _ = try server.create(APIServerEndToEndTests.service("web", clusterIP: "10.96.0.10"))
            let port = try #require(
                await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http", timeout: .seconds(5)))
            #expect(
                await APIServerEndToEndTests.eventually(.seconds(3)) {
                    try APIServerEndToEndTests.answers(port, 2) == ["hello from backend-a"]
                })
            // A few seconds of watching and resyncing at -v 6: still running, still quiet.
            try await Task.sleep(for: .seconds(3))
            #expect(proxy.isRunning, "the proxy exited: \(proxy.output.suffix(5))")
        } catch {
            Issue.record("scenario failed: \(error); proxy output: \(proxy.output.suffix(15))")
        }
        await proxy.terminate()
        backend.process.send(SIGKILL)
        let authorizations = Set(server.requests.map(\.authorization))
        await server.shutdown()
        let output = proxy.output
        #expect(!output.contains { $0.contains(Self.password) }, "the password appeared in the output")
        let encoded = String(Self.basicAuthorization.dropFirst("Basic ".count))
        #expect(!output.contains { $0.contains(encoded) }, "the basic-auth credential appeared in the output")
        let warnings = Self.userInfoWarnings(output)
        #expect(warnings.count == 1, "expected one user-info warning: \(warnings)")
        #expect(warnings.allSatisfy { $0.contains("http://REDACTED@127.0.0.1:\(server.port)") && $0.contains("basic auth") })
        #expect(authorizations == [Self.basicAuthorization], "Authorization headers seen: \(authorizations)")

        // --write-config-to writes the effective configuration, which has no field for the master.
        let written = dir.appendingPathComponent("effective.yaml").path
        let writer = try Self.startProxy(["--master", master, "--write-config-to", written], home: dir.path)
        #expect(await writer.waitForExit(timeout: .seconds(10)) == 0)
        let text = try String(contentsOfFile: written, encoding: .utf8)
        #expect(!text.contains(Self.password))
        #expect(!writer.output.contains { $0.contains(Self.password) })
    }

    @Test func aPasswordInAKubeconfigServerNeverReachesTheOutputAndTheTokenWins() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try await FakeAPIServer.start(token: "t0ken")
        let kubeconfig = dir.appendingPathComponent("kubeconfig")
        try ProxyHarness.write(
            """
            apiVersion: v1
            kind: Config
            current-context: c
            contexts: [{name: c, context: {cluster: k, user: u}}]
            clusters: [{name: k, cluster: {server: "http://admin:\(Self.password)@127.0.0.1:\(server.port)"}}]
            users: [{name: u, user: {token: t0ken}}]
            """, to: kubeconfig)
        let proxy = try Self.startProxy(["--kubeconfig", kubeconfig.path, "-v", "6"], home: dir.path)
        let synced = await proxy.waitForLine(timeout: .seconds(15)) { $0.contains("initial Services and endpoints loaded") }
        #expect(synced != nil, "never synced with the API server: \(proxy.output.suffix(10))")
        try await Task.sleep(for: .seconds(2))
        #expect(proxy.isRunning, "the proxy exited: \(proxy.output.suffix(5))")
        await proxy.terminate()
        let authorizations = Set(server.requests.map(\.authorization))
        await server.shutdown()
        let output = proxy.output
        #expect(!output.contains { $0.contains(Self.password) }, "the password appeared in the output")
        let warnings = Self.userInfoWarnings(output)
        #expect(warnings.count == 1, "expected one user-info warning: \(warnings)")
        #expect(
            warnings.allSatisfy {
                $0.contains("http://REDACTED@127.0.0.1:\(server.port)") && $0.contains("bearer token is configured")
            })
        #expect(authorizations == ["Bearer t0ken"], "Authorization headers seen: \(authorizations)")
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
