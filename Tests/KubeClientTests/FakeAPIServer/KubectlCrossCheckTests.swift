import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// Fidelity check of the fake API server against the real `kubectl` (client-go): if kubectl can
/// list, watch and authenticate against the fake over TLS, the fake's discovery, list, watch
/// framing, TLS and kubeconfig are what a Kubernetes client expects.
@Suite(
    "FakeAPIServer against kubectl",
    .enabled(if: KubectlRunner.path != nil, "needs kubectl in PATH (Debian/Kubernetes package `kubectl`)"),
    .enabled(if: FakeAPIPKI.opensslPath != nil, "needs the openssl CLI (Debian package `openssl`)"),
    .serialized
)
struct KubectlCrossCheckTests {
    private func withTLSServer<T: Sendable>(
        clientCertificates: FakeAPITLS.ClientCertificates = .optional,
        _ body: (FakeAPIServer, FakeAPIScratchDirectory) async throws -> T
    ) async throws -> T {
        let scratch = try FakeAPIScratchDirectory()
        defer { scratch.remove() }
        let directory = scratch.path
        let pki = try await offPool { try FakeAPIPKI.generate(in: directory) }
        let tls = FakeAPITLS(pki: pki, clientCertificates: clientCertificates)
        let server = try await FakeAPIServer.start(tls: tls, token: "kubectl-token")
        do {
            let result = try await body(server, scratch)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    @Test(arguments: [FakeAPIKubeconfigOptions.Style.embedded, .files])
    func kubectlListsTheCreatedServicesOverTLS(style: FakeAPIKubeconfigOptions.Style) async throws {
        try await withTLSServer { server, scratch in
            try server.create(FakeAPISamples.service(name: "web", namespace: "shop", clusterIP: "192.0.2.10"))
            try server.create(
                FakeAPISamples.service(name: "dns", namespace: "kube-system", clusterIP: "192.0.2.53", port: 53, protocol: "UDP"))
            let kubeconfig = try server.writeKubeconfig(to: scratch.path + "/kubeconfig", options: .init(style: style))

            let result = try await KubectlRunner.run(["get", "services", "-A", "-o", "json"], kubeconfig: kubeconfig, scratch: scratch)
            #expect(result.status == 0, "kubectl failed: \(result.stderr)")
            let list = try JSONDecoder().decode(ObjectList<Service>.self, from: Data(result.stdout.utf8))
            #expect(list.items.map { "\($0.metadata.namespace ?? "")/\($0.metadata.name ?? "")" } == ["kube-system/dns", "shop/web"])
            #expect(list.items.first?.spec?.ports?.first?.protocol == "UDP")
        }
    }

    @Test func kubectlWatchSeesTheExistingSliceThenAChange() async throws {
        try await withTLSServer { server, scratch in
            let slice = try server.create(FakeAPISamples.endpointSlice(service: "web", addresses: ["192.0.2.20"]))
            let kubeconfig = try server.writeKubeconfig(to: scratch.path + "/kubeconfig")
            let watcher = try KubectlRunner.start(
                [
                    "get", "endpointslices", "-A", "-w", "--request-timeout=15s", "-o",
                    // Not `{range}`: kubectl's jsonpath printer ends a watch after the second object with it.
                    #"jsonpath={.metadata.name} {.metadata.resourceVersion} {.endpoints[*].addresses[0]}{"\n"}"#,
                ],
                kubeconfig: kubeconfig, scratch: scratch
            )
            let initial = await watcher.waitForLine { $0.hasPrefix("web-slice ") }
            #expect(initial == "web-slice \(slice.metadata.resourceVersion ?? "") 192.0.2.20")
            #expect(await server.waitForWatches(1, on: .endpointSlices))

            var scaled = slice
            scaled.endpoints?.append(EndpointSliceEndpoint(addresses: ["192.0.2.21"], conditions: EndpointConditions(ready: true)))
            let stored = try server.update(scaled)
            let changed = await watcher.waitForLine { $0.hasPrefix("web-slice \(stored.metadata.resourceVersion ?? "")") }
            #expect(
                changed == "web-slice \(stored.metadata.resourceVersion ?? "") 192.0.2.20 192.0.2.21", "kubectl printed: \(watcher.output)")
            await watcher.terminate()
            #expect(server.requestCount(path: "/apis/discovery.k8s.io/v1/endpointslices", watch: true) == 1)
        }
    }

    @Test func kubectlAuthenticatesWithAClientCertificateAlone() async throws {
        try await withTLSServer(clientCertificates: .required) { server, scratch in
            try server.create(FakeAPISamples.node(name: "node-a", internalIP: "192.0.2.1"))
            let kubeconfig = try server.writeKubeconfig(
                to: scratch.path + "/kubeconfig", options: .init(token: "", includeClientCertificate: true)
            )
            let result = try await KubectlRunner.run(["get", "nodes", "-o", "name"], kubeconfig: kubeconfig, scratch: scratch)
            #expect(result.status == 0, "kubectl failed: \(result.stderr)")
            #expect(result.stdout == "node/node-a\n")
        }
    }

    @Test func kubectlIsRefusedWithAWrongToken() async throws {
        try await withTLSServer { server, scratch in
            let kubeconfig = try server.writeKubeconfig(to: scratch.path + "/kubeconfig", options: .init(token: "wrong"))
            let result = try await KubectlRunner.run(["get", "services"], kubeconfig: kubeconfig, scratch: scratch)
            #expect(result.status != 0)
            #expect(result.stderr.contains("Unauthorized") || result.stderr.contains("must be logged in"))
        }
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: BuiltProducts.path("fake-apiserver")), "needs the built fake-apiserver product"
        ))
    func fakeApiserverProgramServesSeededServicesUntilTerminated() async throws {
        let scratch = try FakeAPIScratchDirectory()
        defer { scratch.remove() }
        let program = try ChildProcess(
            executable: BuiltProducts.path("fake-apiserver"),
            arguments: ["--tls", "--token", "demo", "--seed-services", "3", "--kubeconfig", scratch.path + "/kubeconfig"]
        )
        let line = await program.waitForLine { $0.hasPrefix("kubeconfig: ") }
        #expect(line == "kubeconfig: \(scratch.path)/kubeconfig")
        let result = try await KubectlRunner.run(
            ["get", "endpointslices", "-o", "name"], kubeconfig: scratch.path + "/kubeconfig", scratch: scratch)
        #expect(result.status == 0, "kubectl failed: \(result.stderr)")
        #expect(
            result.stdout.split(separator: "\n") == [
                "endpointslice.discovery.k8s.io/svc-1-1", "endpointslice.discovery.k8s.io/svc-2-1",
                "endpointslice.discovery.k8s.io/svc-3-1",
            ])
        #expect(await program.terminate() == 0)
    }
}

/// Runs the real kubectl against a kubeconfig, with its discovery cache in the scratch directory.
enum KubectlRunner {
    /// `kubectl` from PATH, if installed.
    static var path: String? {
        let search = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return search.split(separator: ":").map { "\($0)/kubectl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private static func arguments(_ arguments: [String], kubeconfig: String, scratch: FakeAPIScratchDirectory) -> [String] {
        ["--kubeconfig", kubeconfig, "--cache-dir", scratch.path + "/kube-cache"] + arguments
    }

    /// Runs kubectl to completion (killed after 20 s), stdout and stderr apart; `environment`
    /// adds variables (e.g. `KUBE_EDITOR`).
    static func run(
        _ arguments: [String], kubeconfig: String, scratch: FakeAPIScratchDirectory, environment: [String: String] = [:]
    ) async throws -> Result {
        let executable = try #require(path)
        let full = Self.arguments(arguments, kubeconfig: kubeconfig, scratch: scratch)
        return try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = full
            process.environment = ["HOME": scratch.path, "PATH": "/usr/bin:/bin"].merging(environment) { _, given in given }
            let stdout = Pipe()
            let errorPath = scratch.path + "/kubectl-stderr-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
            defer { try? stderr.close() }
            process.standardOutput = stdout
            process.standardError = stderr
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let pid = process.processIdentifier
            let killer = DispatchWorkItem { kill(pid, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: killer)
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            killer.cancel()
            let errorText = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            return Result(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self), stderr: errorText)
        }
    }

    /// Starts a long-running kubectl (a watch), output merged and read line by line.
    static func start(_ arguments: [String], kubeconfig: String, scratch: FakeAPIScratchDirectory) throws -> ChildProcess {
        let executable = try #require(path)
        return try ChildProcess(
            executable: executable, arguments: Self.arguments(arguments, kubeconfig: kubeconfig, scratch: scratch),
            environment: ["HOME": scratch.path, "PATH": "/usr/bin:/bin"]
        )
    }
}
