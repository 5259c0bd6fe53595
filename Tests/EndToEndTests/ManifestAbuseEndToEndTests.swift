import Foundation
import KubeProxyTesting
import Testing

/// The real binary over a manifest directory holding hostile files next to a good one: an alias
/// bomb (CVE-2019-11253's document) and a 1 GiB file. Loopback only, no portals.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ManifestAbuseEndToEndTests {
    static let billionLaughs = HostileInputs.billionLaughs

    static func startProxy(_ dir: URL, extra: [String] = []) throws -> ChildProcess {
        try ProxyHarness.startProxy(
            [
                "--manifests", dir.path, "--bind-address", "127.0.0.1", "--iptables-min-sync-period", "100ms",
                "--userspace-portals=false", "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
            ] + extra)
    }

    /// The peak resident set size of `pid` in bytes (`VmHWM`).
    static func peakMemory(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        return kilobytes.map { $0 * 1024 }
    }

    @Test func hostileFilesAreRefusedOnceWhileTheGoodServiceKeepsServingAcrossARestart() async throws {
        let backend = try await ProxyHarness.startBackend(name: "backend-a")
        defer { backend.process.send(SIGKILL) }
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProxyHarness.write(
            ManifestProxyEndToEndTests.service() + "\n---\n" + ManifestProxyEndToEndTests.slice("web-a", port: backend.port),
            to: dir.appendingPathComponent("web.yaml"))
        try ProxyHarness.write(Self.billionLaughs, to: dir.appendingPathComponent("bomb.yaml"))
        let huge = dir.appendingPathComponent("huge.yaml")
        #expect(FileManager.default.createFile(atPath: huge.path, contents: nil))
        let handle = try FileHandle(forWritingTo: huge)
        try handle.truncate(atOffset: 1 << 30)  // sparse: no disk, but 1 GiB if read
        try handle.close()

        for (run, extra) in [(1, [String]()), (2, ["--manifest-max-bytes", "2097152"])] {
            let proxy = try Self.startProxy(dir, extra: extra)
            defer { proxy.send(SIGKILL) }
            let port = try #require(
                await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http"),
                "run \(run): no listener; output: \(proxy.output.suffix(10))")
            #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: port).contains("hello from backend-a"))

            // Past a rehash of every file (20 polls of 250 ms): each refusal is still logged once.
            try await Task.sleep(for: .seconds(6))
            let limit = run == 1 ? "16777216" : "2097152"
            let tooLarge = proxy.output.filter { $0.contains("huge.yaml") && $0.contains("1073741824 bytes") }
            #expect(tooLarge.count == 1, "run \(run): \(tooLarge)")
            #expect(tooLarge.first?.contains("limit of \(limit)") == true, "run \(run): \(tooLarge)")
            let bomb = proxy.output.filter { $0.contains("bomb.yaml") && $0.contains("alias bomb") }
            #expect(bomb.count == 1, "run \(run): \(proxy.output.suffix(10))")

            #expect(proxy.isRunning)
            #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: port).contains("hello from backend-a"))
            let peak = try #require(Self.peakMemory(proxy.pid))
            #expect(peak < 200 << 20, "run \(run): peak RSS \(peak >> 20) MiB")
            #expect(await proxy.terminate(grace: .seconds(10)) == 0)
        }
    }
}
