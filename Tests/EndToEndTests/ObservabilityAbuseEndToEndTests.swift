import Foundation
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real binary under abuse of its observability ports and configuration flags: a flood of
/// idle `/healthz` connections under a low descriptor limit, accept errors, and
/// `--write-config-to` aimed at links and standard output. Loopback only.
@Suite(.serialized)
struct ObservabilityAbuseEndToEndTests {
    /// CPU seconds (user + system) the process has used, from `/proc/PID/stat`.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let paren = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after "comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: paren)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Raises this test process's soft descriptor limit so it can hold `needed` sockets.
    static func ensureDescriptors(_ needed: Int) -> Bool {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return false }
        if limit.rlim_cur >= rlim_t(needed) { return true }
        limit.rlim_cur = min(limit.rlim_max, rlim_t(needed))
        return setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur >= rlim_t(needed)
    }

    /// `count` non-blocking TCP connections to `127.0.0.1:port` that never send anything. The
    /// kernel completes those its backlog takes; the rest wait in SYN retries. Returns the fds.
    static func openIdleConnections(_ count: Int, port: Int) -> [Int32] {
        var fds: [Int32] = []
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { break }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fds.append(fd)
        }
        return fds
    }

    static func startProxy(_ dir: URL, prlimit: String?, nofile: Int) throws -> ChildProcess {
        let arguments = [
            "--manifests", dir.path, "--bind-address", "127.0.0.1", "--iptables-min-sync-period", "100ms",
            "--userspace-portals=false", "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
        ]
        guard let prlimit else { return try ProxyHarness.startProxy(arguments) }
        // prlimit execs the proxy, so the child's pid is the proxy's.
        return try ChildProcess(
            executable: prlimit, arguments: ["--nofile=\(nofile):\(nofile)", BuiltProducts.path("kube-proxy")] + arguments)
    }

    /// A Service with one backend on loopback, the proxy under `nofile`, its healthz and proxy ports.
    struct Setup {
        let backend: ProxyHarness.Backend
        let proxy: ChildProcess
        let dir: URL
        let healthPort: Int
        let servicePort: Int

        func stop() {
            proxy.send(SIGKILL)
            backend.process.send(SIGKILL)
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static func setUp(nofile: Int?) async throws -> Setup {
        let backend = try await ProxyHarness.startBackend(name: "backend-a")
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        let proxy: ChildProcess
        do {
            try ProxyHarness.write(
                ManifestProxyEndToEndTests.service() + "\n---\n" + ManifestProxyEndToEndTests.slice("web-a", port: backend.port),
                to: dir.appendingPathComponent("svc.yaml"))
            proxy = try startProxy(dir, prlimit: nofile == nil ? nil : NetworkLab.which("prlimit"), nofile: nofile ?? 0)
        } catch {
            backend.process.send(SIGKILL)
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        guard let healthPort = await OperabilityEndToEndTests.servingPort(proxy, "healthz"),
            let servicePort = await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http")
        else {
            let tail = proxy.output.suffix(10)
            Setup(backend: backend, proxy: proxy, dir: dir, healthPort: 0, servicePort: 0).stop()
            throw SetupFailure(description: "proxy did not start: \(tail)")
        }
        return Setup(backend: backend, proxy: proxy, dir: dir, healthPort: healthPort, servicePort: servicePort)
    }

    /// The proxy under test did not come up.
    struct SetupFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Polls `/healthz` until it answers 200 (or `timeout`).
    static func healthzAnswers(port: Int, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let probe = try? HTTPProbe(host: "127.0.0.1", port: port, timeout: .seconds(2)) {
                _ = try? probe.get("/healthz", closeAfter: true)
                let status = probe.lastStatus
                probe.close()
                if status == 200 { return true }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    @Test func aFloodOfIdleHealthzConnectionsNeitherSpinsNorStarvesServiceTraffic() async throws {
        guard NetworkLab.which("prlimit") != nil else {
            print("skipped: prlimit (util-linux) is not installed")
            return
        }
        try #require(Self.ensureDescriptors(1024), "this test needs 1024 descriptors for its own sockets")
        let setup = try await Self.setUp(nofile: 512)
        defer { setup.stop() }

        let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(setup.proxy.pid)/fd").count) ?? 0 }
        let baseline = descriptors()
        // Closed once: in (c), or by the defer when the test stops early. A second close of the
        // same numbers would close whatever another test (or NIO) opened under them since.
        var flood = Self.openIdleConnections(600, port: setup.healthPort)
        defer { for fd in flood { close(fd) } }
        #expect(flood.count == 600)
        try await Task.sleep(for: .seconds(1))  // let the proxy take what it will

        // (a) No busy loop: an idle proxy uses a few milliseconds of CPU in 3 s; a spinning
        // accept loop a whole core (3 s), or well above 0.5 s even on a loaded machine.
        let before = try #require(Self.cpuSeconds(setup.proxy.pid))
        try await Task.sleep(for: .seconds(3))
        let after = try #require(Self.cpuSeconds(setup.proxy.pid))
        #expect(after - before < 0.5, "the proxy used \(after - before) CPU seconds in 3 s during the flood")
        // The healthz server holds at most its cap (64) of the 600, never the process's limit.
        #expect(descriptors() <= baseline + 64 + 8, "baseline \(baseline), now \(descriptors()) descriptors")

        // (b) Service traffic flows during the flood.
        for _ in 0..<5 {
            let body = try HTTPProbe.fetch(host: "127.0.0.1", port: setup.servicePort)
            #expect(body.contains("hello from backend-a"))
        }
        #expect(setup.proxy.isRunning)

        // (c) Once the flood is gone, /healthz answers again.
        for fd in flood { close(fd) }
        flood = []
        #expect(await Self.healthzAnswers(port: setup.healthPort, timeout: .seconds(20)))
    }

    @Test func acceptErrorsPauseTheHealthzListenerInsteadOfSpinning() async throws {
        guard let prlimit = NetworkLab.which("prlimit") else {
            print("skipped: prlimit (util-linux) is not installed")
            return
        }
        try #require(Self.ensureDescriptors(512))
        let setup = try await Self.setUp(nofile: nil)
        defer { setup.stop() }
        // Leave the running proxy only 8 spare descriptors: fewer than the healthz cap (64), so
        // its accepts fail with EMFILE.
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(setup.proxy.pid)/fd").count
        // Soft limit only: lowering and raising it back needs no privilege.
        _ = try NetworkLab.run([prlimit, "--pid", String(setup.proxy.pid), "--nofile=\(open + 8):"])

        var flood = Self.openIdleConnections(100, port: setup.healthPort)
        defer { for fd in flood { close(fd) } }
        let warned = await setup.proxy.waitForLine(timeout: .seconds(10)) {
            $0.contains("cannot accept connections; pausing")
        }
        #expect(warned != nil, "no back-off warning; output: \(setup.proxy.output.suffix(5))")

        let before = try #require(Self.cpuSeconds(setup.proxy.pid))
        try await Task.sleep(for: .seconds(3))
        let after = try #require(Self.cpuSeconds(setup.proxy.pid))
        #expect(after - before < 0.5, "the proxy used \(after - before) CPU seconds in 3 s while out of descriptors")
        // Few warnings, not one per failed accept.
        #expect(setup.proxy.output.filter { $0.contains("cannot accept connections") }.count < 10)

        // Descriptors back: the flood is closed and /healthz answers again.
        for fd in flood { close(fd) }
        flood = []
        _ = try NetworkLab.run([prlimit, "--pid", String(setup.proxy.pid), "--nofile=\(open + 200):"])
        #expect(await Self.healthzAnswers(port: setup.healthPort, timeout: .seconds(20)))
    }

    @Test func writeConfigToFollowsASymlinkAndDashIsStandardOutput() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("real.yaml")
        try "old\n".write(to: target, atomically: true, encoding: .utf8)
        let link = dir.appendingPathComponent("config.yaml")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "real.yaml")

        let writer = try ProxyHarness.startProxy(["--write-config-to", link.path, "--iptables-sync-period", "45s"])
        #expect(await writer.waitForExit() == 0, "\(writer.output.suffix(5))")
        let attributes = try FileManager.default.attributesOfItem(atPath: link.path)
        #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink)
        #expect(try String(contentsOf: target, encoding: .utf8).contains("syncPeriod: 45s"))

        let printer = try ProxyHarness.startProxy(["--write-config-to", "-", "--iptables-sync-period", "46s"])
        #expect(await printer.waitForExit() == 0, "\(printer.output.suffix(5))")
        #expect(printer.output.contains("kind: KubeProxyConfiguration"))
        #expect(printer.output.contains { $0.contains("syncPeriod: 46s") })
        #expect(!FileManager.default.fileExists(atPath: "-"))
    }

    @Test func pathsInAConfigFileAreRelativeToTheFile() async throws {
        let backend = try await ProxyHarness.startBackend(name: "backend-a")
        defer { backend.process.send(SIGKILL) }
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifests = dir.appendingPathComponent("manifests")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        try ProxyHarness.write(
            ManifestProxyEndToEndTests.service() + "\n---\n" + ManifestProxyEndToEndTests.slice("web-a", port: backend.port),
            to: manifests.appendingPathComponent("svc.yaml"))
        let config = dir.appendingPathComponent("config.yaml")
        try ProxyHarness.write(
            """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            manifests: manifests
            bindAddress: 127.0.0.1
            healthzBindAddress: 127.0.0.1:0
            metricsBindAddress: 127.0.0.1:0
            userspacePortals: false
            """, to: config)
        // The test's working directory is not `dir`: only file-relative resolution finds them.
        #expect(FileManager.default.currentDirectoryPath != dir.path)
        let proxy = try ProxyHarness.startProxy(["--config", config.path])
        defer { proxy.send(SIGKILL) }
        let port = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http"), "\(proxy.output.suffix(10))")
        #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: port).contains("hello from backend-a"))
    }
}
