import Foundation
import KubeProxyTesting
import Testing

/// The data-plane metrics of the real binary: totals per protocol by default, per-port series
/// only with `--metrics-per-service-port`, both showing traffic that really went through.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MetricsEndToEndTests {
    /// Polls `/metrics` until a line starts with `prefix` and has a value of at least 1 (the
    /// statistics are published every 5 s), or 20 s pass; returns the last body.
    static func scrape(port: Int, until prefix: String) async throws -> String {
        var body = ""
        for _ in 0..<40 {
            body = try HTTPProbe.fetch(host: "127.0.0.1", port: port, path: "/metrics")
            let value = body.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }
                .flatMap { Double($0.dropFirst(prefix.count + 1)) }
            if let value, value >= 1 { return body }
            try await Task.sleep(for: .milliseconds(500))
        }
        return body
    }

    @Test(arguments: [false, true])
    func trafficShowsUpInTheUserspaceSeries(perServicePort: Bool) async throws {
        let backend = try await ProxyHarness.startBackend(name: "backend-a")
        defer { backend.process.send(SIGKILL) }
        let dir = try ProxyHarness.temporaryDirectory("kp-metrics")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProxyHarness.write(
            ManifestProxyEndToEndTests.service() + "\n---\n"
                + ManifestProxyEndToEndTests.slice("web-1", port: backend.port),
            to: dir.appendingPathComponent("web.yaml"))
        let proxy = try OperabilityEndToEndTests.startProxy(
            dir, extra: perServicePort ? ["--metrics-per-service-port"] : [])
        defer { proxy.send(SIGKILL) }
        let metricsPort = try #require(
            await OperabilityEndToEndTests.servingPort(proxy, "metrics"), "\(proxy.output.suffix(5))")
        let port = try #require(await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http"))
        #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: port).contains("backend-a"))

        let labels = perServicePort ? "service_port=\"default/web:http\",protocol=\"TCP\"" : "protocol=\"TCP\""
        let connections = "kubeproxy_userspace_connections_total{\(labels)}"
        let body = try await Self.scrape(port: metricsPort, until: connections)
        #expect(body.contains("\n\(connections) 1\n"), "\(body.split(separator: "\n").filter { $0.contains("userspace") })")
        #expect(body.contains("kubeproxy_userspace_bytes_total{\(labels),direction=\"backend_to_client\"} "))
        #expect(!body.contains("kubeproxy_userspace_bytes_total{\(labels),direction=\"backend_to_client\"} 0\n"))
        #expect(body.contains("service_port=") == perServicePort)
    }
}
