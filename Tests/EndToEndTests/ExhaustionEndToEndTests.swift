import Foundation
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The real binary with more Services than its descriptor limit allows listeners for (issue #9,
/// target 2): it stays alive, serves what fits, names the rest in one warning, answers `/healthz`
/// (503 with a reason) and `/metrics`, and serves the rest once Services are deleted. Loopback
/// only, `--userspace-portals=false`.
@Suite(.serialized)
struct ExhaustionEndToEndTests {
    /// Services in the manifest directory; far more than the listener capacity below.
    static let serviceCount = 300
    /// `prlimit --nofile`: reserve 192, ceiling 208, a quarter (52) for connections, 156 listeners.
    static let descriptorLimit = 400
    static let capacity = 156

    static func name(_ index: Int) -> String { String(format: "svc-%03d", index) }

    /// One Service with a TCP port `http` and its EndpointSlice pointing at `backendPort`.
    static func manifest(_ index: Int, backendPort: Int) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name(index)), namespace: default}
        spec:
          clusterIP: 10.97.\(index / 250).\(index % 250 + 1)
          ports:
          - {name: http, port: 80, protocol: TCP, targetPort: 8080}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: \(name(index))-a
          namespace: default
          labels: {kubernetes.io/service-name: \(name(index))}
        addressType: IPv4
        endpoints:
        - addresses: ["127.0.0.1"]
          conditions: {ready: true}
        ports:
        - {name: http, port: \(backendPort), protocol: TCP}
        """
    }

    static func file(_ dir: URL, _ index: Int) -> URL { dir.appendingPathComponent("\(name(index)).yaml") }

    /// Status and body of one GET.
    static func get(_ port: Int, _ path: String) throws -> (status: Int, body: String) {
        let probe = try HTTPProbe(host: "127.0.0.1", port: port)
        defer { probe.close() }
        let body = try probe.get(path, closeAfter: true)
        return (probe.lastStatus, body)
    }

    /// Polls `/healthz` until its status is `status` (5 s at most); the last answer.
    static func healthz(_ port: Int, until status: Int) async throws -> (status: Int, body: String) {
        var answer = try get(port, "/healthz")
        let deadline = ContinuousClock.now + .seconds(5)
        while answer.status != status && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            answer = try get(port, "/healthz")
        }
        return answer
    }

    static func lines(_ proxy: ChildProcess, containing text: String) -> [String] {
        proxy.output.filter { $0.contains(text) }
    }

    @Test func exhaustedListenerCapacityDegradesWithoutCrashing() async throws {
        let backend = try await ProxyHarness.startBackend(name: "a")
        defer { backend.process.send(SIGKILL) }
        let dir = try ProxyHarness.temporaryDirectory("kp-exhaust")
        defer { try? FileManager.default.removeItem(at: dir) }
        for index in 0..<Self.serviceCount {
            try ProxyHarness.write(Self.manifest(index, backendPort: backend.port), to: Self.file(dir, index))
        }
        let proxy = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: [
                "prlimit", "--nofile=\(Self.descriptorLimit):\(Self.descriptorLimit)", "--",
                BuiltProducts.path("kube-proxy"), "--manifests", dir.path, "--bind-address", "127.0.0.1",
                "--iptables-min-sync-period", "100ms", "--iptables-sync-period", "1s", "--userspace-portals=false",
                "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
            ])
        defer { proxy.send(SIGKILL) }
        let healthPort = try #require(
            await OperabilityEndToEndTests.servingPort(proxy, "healthz"), "\(proxy.output.suffix(5))")
        let metricsPort = try #require(
            await OperabilityEndToEndTests.servingPort(proxy, "metrics"), "\(proxy.output.suffix(5))")
        let first = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/svc-000:http"),
            "no listener; output: \(proxy.output.suffix(10))")
        let warning = "service ports not served"
        let unserved = Self.serviceCount - Self.capacity
        #expect(await proxy.waitForLine(where: { $0.contains(warning) }) != nil, "\(proxy.output.suffix(5))")

        // A window of periodic syncs (every second): alive, still one warning, no per-port errors.
        try await Task.sleep(for: .seconds(10))
        #expect(proxy.isRunning, "the proxy died: \(proxy.output.suffix(10))")
        let warnings = Self.lines(proxy, containing: warning)
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains("count=\(unserved) ") == true, "\(warnings)")
        #expect(warnings.first?.contains("default/svc-\(Self.capacity):http") == true, "\(warnings)")
        #expect(warnings.first?.contains("and \(unserved - 20) more") == true, "\(warnings)")
        #expect(warnings.first?.contains("descriptor limit \(Self.descriptorLimit)") == true, "\(warnings)")
        #expect(Self.lines(proxy, containing: "failed to open").isEmpty, "\(proxy.output.suffix(5))")
        #expect(Self.lines(proxy, containing: "servicePort=\"default/svc-").count(where: { $0.contains("listen=") }) == Self.capacity)
        #expect(proxy.output.contains { $0.contains("open file limit is below") })

        let degraded = try Self.get(healthPort, "/healthz")
        #expect(degraded.status == 503, "\(degraded)")
        #expect(degraded.body.contains("\"reason\":\"IPv4: \(unserved) service ports not served"), "\(degraded.body)")
        #expect(try Self.get(healthPort, "/livez").status == 200)
        #expect(try Self.get(metricsPort, "/metrics").status == 200)
        #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: first).contains("hello from a"))

        // 100 served Services deleted: 44 of the unserved ones get listeners, one updated warning.
        let mark = proxy.output.count
        for index in 0..<100 { try FileManager.default.removeItem(at: Self.file(dir, index)) }
        let updated = await proxy.waitForLine(
            from: mark, timeout: .seconds(10), where: { $0.contains(warning) && $0.contains("count=44 ") })
        #expect(updated != nil, "\(proxy.output.suffix(5))")

        // 50 more deleted: everything fits, health is back.
        for index in 100..<150 { try FileManager.default.removeItem(at: Self.file(dir, index)) }
        let served = await proxy.waitForLine(
            from: mark, timeout: .seconds(10), where: { $0.contains("all service ports served again") })
        #expect(served != nil, "\(proxy.output.suffix(5))")
        let healthy = try await Self.healthz(healthPort, until: 200)
        #expect(healthy.status == 200, "\(healthy)")
        #expect(!healthy.body.contains("reason"))
        let last = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/svc-299:http"),
            "svc-299 never got a listener: \(proxy.output.suffix(5))")
        #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: last).contains("hello from a"))
        #expect(proxy.isRunning)
    }
}
