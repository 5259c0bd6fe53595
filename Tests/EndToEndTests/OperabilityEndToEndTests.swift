import Foundation
import KubeProxyTesting
import Testing

/// Health, metrics, configuration and shutdown of the real binary, as an operator meets them.
@Suite(.serialized)
struct OperabilityEndToEndTests {
    /// The port from a `serving NAME address="ip:port"` log line.
    static func servingPort(_ proxy: ChildProcess, _ name: String) async -> Int? {
        guard let line = await proxy.waitForLine(where: { $0.contains("serving \(name)") }) else { return nil }
        guard let range = line.range(of: "address=\"") else { return nil }
        let rest = line[range.upperBound...]
        guard let end = rest.firstIndex(of: "\""), let colon = rest[..<end].lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)..<end])
    }

    static func startProxy(_ dir: URL, extra: [String] = []) throws -> ChildProcess {
        try ProxyHarness.startProxy(
            [
                "--manifests", dir.path, "--bind-address", "127.0.0.1", "--iptables-min-sync-period", "100ms",
                "--userspace-portals=false", "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
            ] + extra)
    }

    @Test func healthLivenessAndMetricsAnswerLikeUpstream() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-ops")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProxyHarness.write(ManifestProxyEndToEndTests.service(), to: dir.appendingPathComponent("svc.yaml"))
        let proxy = try Self.startProxy(dir)
        defer { proxy.send(SIGKILL) }
        let healthPort = try #require(await Self.servingPort(proxy, "healthz"), "\(proxy.output.suffix(5))")
        let metricsPort = try #require(await Self.servingPort(proxy, "metrics"), "\(proxy.output.suffix(5))")
        _ = await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http")

        for path in ["/healthz", "/livez"] {
            let probe = try HTTPProbe(host: "127.0.0.1", port: healthPort)
            let body = try probe.get(path, closeAfter: true)
            #expect(probe.lastStatus == 200, "\(path): \(body)")
            #expect(probe.lastHeaders["content-type"] == "application/json")
            #expect(probe.lastHeaders["x-content-type-options"] == "nosniff")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            #expect(json["healthy"] as? Bool == true)
            #expect(json["lastUpdated"] is String && json["currentTime"] is String)
        }
        let probe = try HTTPProbe(host: "127.0.0.1", port: metricsPort)
        let exposition = try probe.get("/metrics", closeAfter: true)
        #expect(probe.lastStatus == 200)
        for name in [
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket", "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "kubeproxy_sync_proxy_rules_service_changes_total", "kubeproxy_sync_proxy_rules_endpoint_changes_total",
            "kubeproxy_proxy_healthz_total", "kubeproxy_proxy_livez_total",
        ] {
            #expect(exposition.contains(name), "missing \(name)")
        }
        #expect(exposition.contains("ip_family=\"IPv4\""))

        // A real Prometheus text parser must accept the whole exposition.
        if let python = NetworkLab.which("python3"),
            (try? NetworkLab.run([python, "-c", "import prometheus_client"])) != nil
        {
            let script = """
                import sys
                from prometheus_client.parser import text_string_to_metric_families
                names = [f.name for f in text_string_to_metric_families(sys.stdin.read())]
                print(len(names))
                """
            let count = try NetworkLab.run([python, "-c", script], input: exposition)
            #expect((Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 5)
        } else {
            print("skipped the Prometheus parser check: python3 with the prometheus-client package is not installed")
        }
    }

    @Test func sigtermShutsDownCleanlyAndClosesTheProxyPort() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-ops")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProxyHarness.write(ManifestProxyEndToEndTests.service(), to: dir.appendingPathComponent("svc.yaml"))
        let proxy = try Self.startProxy(dir)
        defer { proxy.send(SIGKILL) }
        let port = try #require(await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http"))
        let status = await proxy.terminate(grace: .seconds(10))
        #expect(status == 0)
        #expect(throws: HTTPProbe.Failure.refused) { _ = try HTTPProbe(host: "127.0.0.1", port: port) }
    }

    @Test func writeConfigToWritesAFileThatConfigReadsBack() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-ops")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.yaml")
        let writer = try ProxyHarness.startProxy([
            "--write-config-to", file.path, "--iptables-sync-period", "45s", "--manifests", "/etc/kp",
        ])
        #expect(await writer.waitForExit() == 0)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains("kind: KubeProxyConfiguration"))
        #expect(text.contains("syncPeriod: 45s"))
        // Reading it back (plus one flag override) gives the same effective configuration.
        let again = dir.appendingPathComponent("again.yaml")
        let reader = try ProxyHarness.startProxy(["--config", file.path, "--write-config-to", again.path])
        #expect(await reader.waitForExit() == 0)
        #expect(try String(contentsOf: again, encoding: .utf8) == text)
    }

    @Test func aBadConfigFileFailsAtStartNamingTheField() async throws {
        let dir = try ProxyHarness.temporaryDirectory("kp-ops")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.yaml")
        try ProxyHarness.write(
            "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables:\n  syncPerod: 1s\n", to: file)
        let proxy = try ProxyHarness.startProxy(["--config", file.path])
        #expect(await proxy.waitForExit() != 0)
        #expect(proxy.output.contains { $0.contains("iptables.syncPerod") && $0.contains("unknown field") })
    }

    @Test func versionPrintsAndExitsZero() async throws {
        let proxy = try ProxyHarness.startProxy(["--version"])
        #expect(await proxy.waitForExit() == 0)
        #expect(proxy.output.contains { $0.contains("swift-kube-proxy") })
    }
}
