import Foundation
import KubeProxyTesting
import Testing

/// The real `kube-proxy` binary with `--manifests`, real backends, real sockets on loopback.
@Suite(.serialized)
struct ManifestProxyEndToEndTests {
    static func service(name: String = "web") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: default
        spec:
          clusterIP: 10.96.0.10
          ports:
          - name: http
            port: 80
            protocol: TCP
            targetPort: 8080
        """
    }

    static func slice(_ sliceName: String, service: String = "web", ip: String = "127.0.0.1", port: Int) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: \(sliceName)
          namespace: default
          labels:
            kubernetes.io/service-name: \(service)
        addressType: IPv4
        endpoints:
        - addresses: ["\(ip)"]
          conditions:
            ready: true
        ports:
        - name: http
          port: \(port)
          protocol: TCP
        """
    }

    /// Counts which backend answered each of `count` requests, each on a new connection.
    static func spread(port: Int, count: Int) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<count {
            let body = try HTTPProbe.fetch(host: "127.0.0.1", port: port)
            counts[body.trimmingCharacters(in: .whitespacesAndNewlines), default: 0] += 1
        }
        return counts
    }

    @Test func roundRobinEditRemoveBrokenDocumentAndDelete() async throws {
        let a = try await ProxyHarness.startBackend(name: "backend-a")
        let b = try await ProxyHarness.startBackend(name: "backend-b")
        defer {
            a.process.send(SIGKILL)
            b.process.send(SIGKILL)
        }
        let dir = try ProxyHarness.temporaryDirectory("kp-e2e")
        defer { try? FileManager.default.removeItem(at: dir) }
        let serviceFile = dir.appendingPathComponent("service.yaml")
        let slicesFile = dir.appendingPathComponent("slices.yaml")
        try ProxyHarness.write(Self.service(), to: serviceFile)
        try ProxyHarness.write(
            Self.slice("web-a", port: a.port) + "\n---\n" + Self.slice("web-b", port: b.port), to: slicesFile)

        let proxy = try ProxyHarness.startProxy([
            "--manifests", dir.path, "--bind-address", "127.0.0.1", "--iptables-min-sync-period", "100ms",
            // In the host's namespace: never portals, and no fixed ports that parallel runs would share.
            "--userspace-portals=false", "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
        ])
        defer { proxy.send(SIGKILL) }
        let port = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http"),
            "no listener announced; output: \(proxy.output.suffix(10))")

        // Round robin over both backends: 10 requests → 5 and 5.
        #expect(try Self.spread(port: port, count: 10) == ["hello from backend-a": 5, "hello from backend-b": 5])

        // Hold a keep-alive connection open, then remove the backend it landed on.
        let held = try HTTPProbe(host: "127.0.0.1", port: port)
        let first = try held.get().trimmingCharacters(in: .whitespacesAndNewlines)
        let survivor = first == "hello from backend-a" ? "hello from backend-b" : "hello from backend-a"
        let keptSlice = first == "hello from backend-a" ? Self.slice("web-b", port: b.port) : Self.slice("web-a", port: a.port)
        try ProxyHarness.write(keptSlice, to: slicesFile)
        // A hang guard, not a timing target: a loaded parallel run can take seconds to apply.
        let deadline = ContinuousClock.now + .seconds(10)
        var converged = false
        while ContinuousClock.now < deadline {
            if try Self.spread(port: port, count: 4) == [survivor: 4] { converged = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(converged, "new requests still reach the removed backend 10 s after the edit")
        #expect(try Self.spread(port: port, count: 6) == [survivor: 6])
        // The connection opened before the edit still reaches its (removed) backend.
        #expect(try held.get().trimmingCharacters(in: .whitespacesAndNewlines) == first)
        held.close()

        // A broken document is reported and changes nothing.
        let before = proxy.output.count
        try ProxyHarness.write(
            Self.service() + "\n---\nkind: Service\napiVersion: v1\nmetadata: {name: broken}\nspec: {ports: [{port: 99999}]}\n",
            to: serviceFile)
        let report = await proxy.waitForLine(from: before, timeout: .seconds(3)) {
            $0.contains("service.yaml") && $0.contains("document 2")
        }
        #expect(report != nil, "broken document not reported; output: \(proxy.output.suffix(5))")
        #expect(try Self.spread(port: port, count: 3) == [survivor: 3])

        // Deleting the Service closes its port.
        try FileManager.default.removeItem(at: serviceFile)
        let closeDeadline = ContinuousClock.now + .seconds(10)
        var refused = false
        while ContinuousClock.now < closeDeadline {
            do {
                _ = try HTTPProbe.fetch(host: "127.0.0.1", port: port)
            } catch HTTPProbe.Failure.refused {
                refused = true
                break
            } catch {}
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refused, "the proxy port still accepts connections after the Service was deleted")
        #expect(proxy.isRunning)
    }

    @Test func flagErrorsAreUsageErrors() async throws {
        let proxy = try ProxyHarness.startProxy(["--proxy-port-range", "70000-1"])
        let status = await proxy.waitForExit()
        #expect(status != nil && status != 0)
        #expect(proxy.output.contains { $0.contains("--proxy-port-range") })
        #expect(!proxy.output.contains { $0.contains("Fatal error") || $0.contains("Stack") })
    }

    @Test func aMissingKubeconfigFailsAtStartNamingTheFile() async throws {
        let proxy = try ProxyHarness.startProxy(["--kubeconfig", "/nonexistent/kubeconfig", "--userspace-portals=false"])
        let status = await proxy.waitForExit()
        #expect(status != nil && status != 0)
        #expect(proxy.output.contains { $0.contains("/nonexistent/kubeconfig") })
    }

    @Test func manifestsAndAnAPIServerAreExclusive() async throws {
        let proxy = try ProxyHarness.startProxy(["--manifests", "/tmp", "--master", "https://127.0.0.1:6443"])
        #expect(await proxy.waitForExit() != 0)
        #expect(proxy.output.contains { $0.contains("--manifests") && $0.contains("--master") })
    }
}
