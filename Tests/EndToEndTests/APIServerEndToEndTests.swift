import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// The real `kube-proxy` binary following the fake API server over TLS with a bearer token.
@Suite(.serialized)
struct APIServerEndToEndTests {
    static let token = "e2e-token-0123456789"

    static func service(_ name: String, clusterIP: String) -> Service {
        Service(
            apiVersion: "v1", kind: "Service", metadata: ObjectMeta(name: name, namespace: "default"),
            spec: ServiceSpec(
                ports: [ServicePortSpec(name: "http", protocol: "TCP", port: 80, targetPort: .int(8080))],
                clusterIP: clusterIP, clusterIPs: [clusterIP], type: "ClusterIP"))
    }

    static func slice(_ name: String, service: String, port: Int) -> EndpointSlice {
        EndpointSlice(
            apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
            metadata: ObjectMeta(
                name: name, namespace: "default",
                labels: ["kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "e2e"]),
            addressType: "IPv4",
            endpoints: [EndpointSliceEndpoint(addresses: ["127.0.0.1"], conditions: EndpointConditions(ready: true))],
            ports: [EndpointSlicePort(name: "http", protocol: "TCP", port: port)])
    }

    /// Polls `body` until it returns true or `timeout` passes.
    static func eventually(_ timeout: Duration, _ body: () throws -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? body()) == true { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    static func answers(_ port: Int, _ count: Int) throws -> Set<String> {
        var seen: Set<String> = []
        for _ in 0..<count {
            seen.insert(try HTTPProbe.fetch(host: "127.0.0.1", port: port).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return seen
    }

    static func refused(_ port: Int) -> Bool {
        do {
            _ = try HTTPProbe(host: "127.0.0.1", port: port)
            return false
        } catch {
            return error == .refused
        }
    }

    @Test func followsServicesAndEndpointsAndSurvivesDisconnectsAndAnOutage() async throws {
        guard NetworkLab.which("openssl") != nil else {
            print("skipped: the fake API server's TLS certificates need the openssl package")
            return
        }
        let dir = try ProxyHarness.temporaryDirectory("kp-api")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pki = try FakeAPIPKI.generate(in: dir.path)
        let server = try await FakeAPIServer.start(tls: FakeAPITLS(pki: pki), token: Self.token)
        let a = try await ProxyHarness.startBackend(name: "backend-a")
        let b = try await ProxyHarness.startBackend(name: "backend-b")
        let kubeconfig = dir.appendingPathComponent("kubeconfig").path
        try server.writeKubeconfig(to: kubeconfig, options: FakeAPIKubeconfigOptions(token: Self.token))
        let proxy = try ProxyHarness.startProxy([
            "--kubeconfig", kubeconfig, "--hostname-override", "node-1", "--bind-address", "127.0.0.1",
            "--iptables-min-sync-period", "100ms", "--userspace-portals=false",
            "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
        ])
        do {
            try await scenario(server: server, proxy: proxy, a: a, b: b)
        } catch {
            Issue.record("scenario failed: \(error); proxy output: \(proxy.output.suffix(15))")
        }
        proxy.send(SIGKILL)
        a.process.send(SIGKILL)
        b.process.send(SIGKILL)
        await server.shutdown()
        #expect(!proxy.output.contains { $0.contains(Self.token) }, "the token appeared in the proxy's log")
    }

    func scenario(server: FakeAPIServer, proxy: ChildProcess, a: ProxyHarness.Backend, b: ProxyHarness.Backend) async throws {
        let synced = await proxy.waitForLine(timeout: .seconds(15)) { $0.contains("initial Services and endpoints loaded") }
        try #require(synced != nil, "never synced with the API server: \(proxy.output.suffix(10))")

        // A Service created through the API becomes a proxied port within about a second.
        let created = ContinuousClock.now
        _ = try server.create(Self.slice("web-a", service: "web", port: a.port))
        _ = try server.create(Self.service("web", clusterIP: "10.96.0.10"))
        let port = try #require(await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http", timeout: .seconds(5)))
        let latency = ContinuousClock.now - created
        print("service created → proxied port in \(latency)")
        #expect(latency < .seconds(2))
        // The slice may reach the proxy in a later sync than the Service.
        #expect(await Self.eventually(.seconds(3)) { try Self.answers(port, 2) == ["hello from backend-a"] })

        // Scale up, then down.
        _ = try server.create(Self.slice("web-b", service: "web", port: b.port))
        #expect(await Self.eventually(.seconds(3)) { try Self.answers(port, 4) == ["hello from backend-a", "hello from backend-b"] })
        _ = try server.delete(EndpointSlice.self, namespace: "default", name: "web-a")
        #expect(await Self.eventually(.seconds(3)) { try Self.answers(port, 4) == ["hello from backend-b"] })

        // A Service deleted while the proxy is disconnected (its watch resumes into a 410) is gone after reconnecting.
        _ = try server.create(Self.service("gone", clusterIP: "10.96.0.11"))
        let gonePort = try #require(await ProxyHarness.waitForListener(proxy, servicePort: "default/gone:http", timeout: .seconds(5)))
        server.dropConnections()
        _ = try server.delete(Service.self, namespace: "default", name: "gone")
        server.compact()
        #expect(await Self.eventually(.seconds(10)) { Self.refused(gonePort) }, "the Service deleted while disconnected is still proxied")
        #expect(try Self.answers(port, 2) == ["hello from backend-b"])

        // A 30 s API outage: existing traffic keeps flowing and nothing is torn down.
        server.dropConnections()
        server.stall(for: .seconds(30))
        let outageEnd = ContinuousClock.now + .seconds(30)
        var failures = 0
        var served = 0
        while ContinuousClock.now < outageEnd {
            do {
                served += try Self.answers(port, 1) == ["hello from backend-b"] ? 1 : 0
            } catch {
                failures += 1
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(failures == 0 && served > 40, "during the outage: \(served) served, \(failures) failed")
        #expect(!proxy.output.contains { $0.contains("service port stopped") && $0.contains("default/web:http") })

        // After the outage the watch resumes: a new endpoint is followed again.
        _ = try server.create(Self.slice("web-a2", service: "web", port: a.port))
        #expect(await Self.eventually(.seconds(15)) { try Self.answers(port, 4).contains("hello from backend-a") })
    }
}
