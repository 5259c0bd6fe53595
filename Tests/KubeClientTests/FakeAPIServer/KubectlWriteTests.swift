import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// The real kubectl writing to the fake as an operator would: `apply` with its default
/// validation, re-`apply` of an edited manifest, `patch` in all three formats, `edit` with a
/// scripted editor, and the fault control of the `fake-apiserver` program.
@Suite(
    "FakeAPIServer written by kubectl",
    .enabled(if: KubectlRunner.path != nil, "needs kubectl in PATH (package `kubectl`)"),
    // kubectl sends a bearer token only over TLS.
    .enabled(if: FakeAPIPKI.opensslPath != nil, "needs the openssl CLI (Debian package `openssl`)"),
    .serialized
)
struct KubectlWriteTests {
    private static let manifest = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: shop
          labels: {app: web, tier: front}
        spec:
          clusterIP: 192.0.2.10
          selector: {app: web}
          ports:
          - {name: http, port: 80, targetPort: 8080}
          - {name: https, port: 443, targetPort: 8443}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-1
          namespace: shop
          labels: {kubernetes.io/service-name: web}
        addressType: IPv4
        endpoints:
        - addresses: [192.0.2.20]
          conditions: {ready: true}
        ports:
        - {name: http, port: 8080, protocol: TCP}
        """

    private func withServer<T: Sendable>(_ body: (FakeAPIServer, String, FakeAPIScratchDirectory) async throws -> T) async throws -> T {
        let scratch = try FakeAPIScratchDirectory()
        defer { scratch.remove() }
        let directory = scratch.path
        let pki = try await offPool { try FakeAPIPKI.generate(in: directory) }
        let server = try await FakeAPIServer.start(tls: FakeAPITLS(pki: pki), token: "kubectl-token")
        do {
            let kubeconfig = try server.writeKubeconfig(to: scratch.path + "/kubeconfig")
            let result = try await body(server, kubeconfig, scratch)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func applyCreatesThenReappliesAnEditedManifest() async throws {
        try await withServer { server, kubeconfig, scratch in
            let path = scratch.path + "/web.yaml"
            try write(Self.manifest, to: path)
            let created = try await KubectlRunner.run(["apply", "-f", path], kubeconfig: kubeconfig, scratch: scratch)
            #expect(created.status == 0, "kubectl apply failed: \(created.stderr)")
            #expect(created.stdout.contains("service/web created"))
            #expect(created.stdout.contains("endpointslice.discovery.k8s.io/web-1 created"))
            let service = try #require(server.get(Service.self, namespace: "shop", name: "web"))
            #expect(service.spec?.ports?.map(\.port) == [80, 443])
            #expect(service.metadata.annotations?["kubectl.kubernetes.io/last-applied-configuration"] != nil)
            // kubectl asked the server to validate (it found fieldValidation in the OpenAPI document).
            #expect(server.requests.contains { $0.method == "POST" && $0.query["fieldValidation"] == "Strict" })

            // Someone else adds a label; the re-apply drops the https port and the tier label
            // but keeps what it never managed.
            var live = service
            live.metadata.labels?["owner"] = "ops"
            try server.update(live)
            let edited = Self.manifest
                .replacingOccurrences(of: "labels: {app: web, tier: front}", with: "labels: {app: web}")
                .replacingOccurrences(of: "  - {name: https, port: 443, targetPort: 8443}\n", with: "")
                .replacingOccurrences(of: "addresses: [192.0.2.20]", with: "addresses: [192.0.2.21]")
            try write(edited, to: path)
            let reapplied = try await KubectlRunner.run(["apply", "-f", path], kubeconfig: kubeconfig, scratch: scratch)
            #expect(reapplied.status == 0, "kubectl apply failed: \(reapplied.stderr)")
            #expect(reapplied.stdout.contains("service/web configured"))
            let updated = try #require(server.get(Service.self, namespace: "shop", name: "web"))
            #expect(updated.spec?.ports?.map(\.port) == [80])
            #expect(updated.metadata.labels == ["app": "web", "owner": "ops"])
            let slice = try #require(server.get(EndpointSlice.self, namespace: "shop", name: "web-1"))
            #expect(slice.endpoints?.map { $0.addresses ?? [] } == [["192.0.2.21"]])
            #expect(server.requests.contains { $0.method == "PATCH" })

            let unchanged = try await KubectlRunner.run(["apply", "-f", path], kubeconfig: kubeconfig, scratch: scratch)
            #expect(unchanged.stdout.contains("service/web unchanged"), "\(unchanged.stdout) \(unchanged.stderr)")
        }
    }

    @Test func applyWithAnUnknownFieldFailsNamingIt() async throws {
        try await withServer { server, kubeconfig, scratch in
            let path = scratch.path + "/bad.yaml"
            try write(
                "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: default}\nspec:\n  ports: [{port: 80}]\n  colour: red\n",
                to: path)
            let result = try await KubectlRunner.run(["apply", "-f", path], kubeconfig: kubeconfig, scratch: scratch)
            #expect(result.status != 0)
            #expect(result.stderr.contains("unknown field \"spec.colour\""), "\(result.stderr)")
            #expect(server.get(Service.self, name: "bad") == nil)
        }
    }

    @Test func patchInEveryFormat() async throws {
        try await withServer { server, kubeconfig, scratch in
            try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10", labels: ["app": "web", "tier": "front"]))
            let strategic = try await KubectlRunner.run(
                [
                    "patch", "service", "web", "--type", "strategic", "-p",
                    #"{"spec":{"ports":[{"port":443,"name":"https","targetPort":8443}]}}"#,
                ],
                kubeconfig: kubeconfig, scratch: scratch)
            #expect(strategic.status == 0, "\(strategic.stderr)")
            #expect(server.get(Service.self, name: "web")?.spec?.ports?.map(\.port) == [80, 443])

            let merge = try await KubectlRunner.run(
                [
                    "patch", "service", "web", "--type", "merge", "-p",
                    #"{"metadata":{"labels":{"tier":null}},"spec":{"ports":[{"port":8080}]}}"#,
                ],
                kubeconfig: kubeconfig, scratch: scratch)
            #expect(merge.status == 0, "\(merge.stderr)")
            var stored = try #require(server.get(Service.self, name: "web"))
            #expect(stored.metadata.labels == ["app": "web"])
            #expect(stored.spec?.ports?.map(\.port) == [8080])

            let json = try await KubectlRunner.run(
                ["patch", "service", "web", "--type", "json", "-p", #"[{"op":"replace","path":"/spec/ports/0/port","value":9090}]"#],
                kubeconfig: kubeconfig, scratch: scratch)
            #expect(json.status == 0, "\(json.stderr)")
            stored = try #require(server.get(Service.self, name: "web"))
            #expect(stored.spec?.ports?.map(\.port) == [9090])
        }
    }

    @Test func editWithAScriptedEditor() async throws {
        try await withServer { server, kubeconfig, scratch in
            try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10"))
            let editor = scratch.path + "/editor.sh"
            try write("#!/bin/sh\nsed -i 's/targetPort: 8080/targetPort: 9090/' \"$1\"\n", to: editor)
            chmod(editor, 0o755)
            let result = try await KubectlRunner.run(
                ["edit", "service", "web"], kubeconfig: kubeconfig, scratch: scratch, environment: ["KUBE_EDITOR": editor])
            #expect(result.status == 0, "kubectl edit failed: \(result.stderr)")
            #expect(result.stdout.contains("service/web edited"))
            #expect(server.get(Service.self, name: "web")?.spec?.ports?.first?.targetPort == .int(9090))
        }
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: BuiltProducts.path("fake-apiserver")), "needs the built fake-apiserver product"
        ))
    func programFaultFlagAndControlEndpoint() async throws {
        let scratch = try FakeAPIScratchDirectory()
        defer { scratch.remove() }
        let kubeconfig = scratch.path + "/kubeconfig"
        let program = try ChildProcess(
            executable: BuiltProducts.path("fake-apiserver"),
            arguments: ["--tls", "--token", "demo", "--seed-services", "1", "--kubeconfig", kubeconfig, "--fault", "fail=1:503"]
        )
        defer { Task { [program] in await program.terminate() } }
        #expect(await program.waitForLine { $0.hasPrefix("kubeconfig: ") } != nil)

        let report = try await KubectlRunner.run(["get", "--raw", "/fake/faults"], kubeconfig: kubeconfig, scratch: scratch)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains(#""remaining":1"#), "\(report.stdout)")
        let failed = try await KubectlRunner.run(["get", "--raw", "/api/v1/services"], kubeconfig: kubeconfig, scratch: scratch)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("ServiceUnavailable") || failed.stderr.contains("unable to handle the request"), "\(failed.stderr)")

        let spec = scratch.path + "/faults"
        try write("fail=2:429:1\n", to: spec)
        let injected = try await KubectlRunner.run(
            ["create", "--raw", "/fake/faults", "-f", spec], kubeconfig: kubeconfig, scratch: scratch)
        #expect(injected.status == 0, "\(injected.stderr)")
        #expect(injected.stdout.contains(#""applied":["fail=2:429:1"]"#), "\(injected.stdout)")
        let after = try await KubectlRunner.run(["get", "--raw", "/fake/faults"], kubeconfig: kubeconfig, scratch: scratch)
        #expect(after.stdout.contains(#""code":429"#), "\(after.stdout)")
        #expect(await program.terminate() == 0)

        let help = try ChildProcess(executable: BuiltProducts.path("fake-apiserver"), arguments: ["--help"])
        #expect(await help.waitForLine { $0.contains("stall=DURATION") } != nil)
        #expect(await help.waitForExit() == 0)
        await help.terminate()
        let bad = try ChildProcess(executable: BuiltProducts.path("fake-apiserver"), arguments: ["--fault", "explode"])
        #expect(await bad.waitForLine { $0.contains("unknown fault") } != nil)
        #expect(await bad.waitForExit() == 2)
        await bad.terminate()
    }
}
