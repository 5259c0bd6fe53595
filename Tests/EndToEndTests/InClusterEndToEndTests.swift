import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real `kube-proxy` started the way `deploy/`'s DaemonSet starts it, against a fake API
/// server that enforces the ClusterRoles and ClusterRoleBindings `deploy/` ships:
///
/// - in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`PORT` in the environment and the
///   service-account token and CA at `/var/run/secrets/kubernetes.io/serviceaccount/`, bind-mounted
///   there from a temporary directory inside a private mount namespace (as the kubelet mounts
///   them), so the binary runs unmodified with no override;
/// - `--config` with the ConfigMap's `config.conf` and `--hostname-override` with the node name.
///
/// For network safety the proxy listens on loopback only and installs no iptables rules in the
/// host namespace: `--bind-address 127.0.0.1 --userspace-portals=false` and ephemeral loopback
/// health and metrics ports override the ConfigMap's node-wide values (flags win over the file).
///
/// It proves the role is complete (the proxy lists, watches and proxies with nothing denied)
/// and minimal (without any one rule the proxy logs the 403 naming the resource and does not
/// get there).
@Suite(.serialized)
struct InClusterEndToEndTests {
    static let nodeName = "node-1"
    static let serviceAccountMount = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Flags that replace the DaemonSet's node-wide addresses, for network safety (see the type).
    static let loopbackArguments = [
        "--bind-address", "127.0.0.1", "--userspace-portals=false", "--healthz-bind-address", "127.0.0.1:0",
        "--metrics-bind-address", "127.0.0.1:0", "--iptables-min-sync-period", "100ms",
    ]

    /// Why this machine cannot run the rehearsal, or `nil`.
    static func missingPrerequisite() -> String? {
        guard getuid() == 0 else {
            return "needs root: the service-account files are bind-mounted at the standard path in a private mount namespace"
        }
        for tool in ["unshare", "mount", "openssl"] where NetworkLab.which(tool) == nil {
            return "needs the \(tool) command"
        }
        return nil
    }

    /// The policy `kubectl apply -k deploy/` installs.
    static func basePolicy() throws -> FakeAPIRBAC {
        try FakeAPIRBAC.load(files: FakeAPIDeployManifests.baseRBACFiles)
    }

    /// The policy of `kubectl apply -k deploy/legacy-endpoints`.
    static func legacyEndpointsPolicy() throws -> FakeAPIRBAC {
        try basePolicy().merging(try FakeAPIRBAC.load(files: FakeAPIDeployManifests.legacyEndpointsRBACFiles))
    }

    /// A running rehearsal: server, backend and proxy, torn down by ``stop()``.
    final class Rehearsal {
        let directory: URL
        let server: FakeAPIServer
        let backend: ProxyHarness.Backend
        var proxy: ChildProcess?

        init(directory: URL, server: FakeAPIServer, backend: ProxyHarness.Backend) {
            self.directory = directory
            self.server = server
            self.backend = backend
        }

        /// The proxy's log so far, for failure messages.
        var log: String { (proxy?.output ?? []).suffix(12).joined(separator: "\n") }

        /// Kills the proxy and the backend by PID, stops the server, deletes the files.
        func stop() async {
            proxy?.send(SIGKILL)
            backend.process.send(SIGKILL)
            _ = await proxy?.waitForExit(timeout: .seconds(5))
            _ = await backend.process.waitForExit(timeout: .seconds(5))
            await server.shutdown()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Starts the fake API server enforcing `policy` for the service account its binding names,
    /// with one Service (`default/web`), its EndpointSlice and its Endpoints pointing at a
    /// backend, and this node's Node; then the proxy in-cluster with the deployed configuration.
    static func start(policy: FakeAPIRBAC, arguments extra: [String] = []) async throws -> Rehearsal {
        let directory = try ProxyHarness.temporaryDirectory("kp-incluster")
        let pki: FakeAPIPKI
        do {
            pki = try FakeAPIPKI.generate(in: directory.path)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let account = try #require(FakeAPIDeployManifests.serviceAccounts(in: policy).first, "no binding names a service account")
        let token = "sa-\(UUID().uuidString)"
        let server = try await FakeAPIServer.start(
            tls: FakeAPITLS(pki: pki), token: "admin-\(UUID().uuidString)",
            authorization: FakeAPIAuthorization(policy: policy, tokens: [token: account]))
        let backend: ProxyHarness.Backend
        do {
            backend = try await ProxyHarness.startBackend(name: "backend-a")
        } catch {
            await server.shutdown()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let rehearsal = Rehearsal(directory: directory, server: server, backend: backend)
        do {
            try seed(server, backendPort: backend.port)
            rehearsal.proxy = try startProxy(
                in: directory, token: token, caFile: pki.caCertificatePath, serverPort: server.port, extra: extra)
        } catch {
            await rehearsal.stop()
            throw error
        }
        return rehearsal
    }

    static func seed(_ server: FakeAPIServer, backendPort: Int) throws {
        _ = try server.create(
            Service(
                apiVersion: "v1", kind: "Service", metadata: ObjectMeta(name: "web", namespace: "default"),
                spec: ServiceSpec(
                    ports: [ServicePortSpec(name: "http", protocol: "TCP", port: 80, targetPort: .int(8080))],
                    clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], type: "ClusterIP")))
        _ = try server.create(
            EndpointSlice(
                apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
                metadata: ObjectMeta(name: "web-a", namespace: "default", labels: ["kubernetes.io/service-name": "web"]),
                addressType: "IPv4",
                endpoints: [EndpointSliceEndpoint(addresses: ["127.0.0.1"], conditions: EndpointConditions(ready: true))],
                ports: [EndpointSlicePort(name: "http", protocol: "TCP", port: backendPort)]))
        _ = try server.create(
            Endpoints(
                apiVersion: "v1", kind: "Endpoints", metadata: ObjectMeta(name: "web", namespace: "default"),
                subsets: [
                    EndpointSubset(
                        addresses: [EndpointSubsetAddress(ip: "127.0.0.1")],
                        ports: [EndpointSubsetPort(name: "http", port: backendPort, protocol: "TCP")])
                ]))
        _ = try server.create(FakeAPISamples.node(name: nodeName, internalIP: "127.0.0.1"))
    }

    /// `kube-proxy --config <ConfigMap's config.conf> --hostname-override node-1`, with the
    /// in-cluster environment and the service-account directory mounted where the kubelet
    /// mounts it, in a private mount namespace (a tmpfs over `/run` holds the mount point, so
    /// nothing is created on the host).
    static func startProxy(in directory: URL, token: String, caFile: String, serverPort: Int, extra: [String]) throws -> ChildProcess {
        let configMap = try FakeAPIDeployManifests.configMap(
            in: try FakeAPIDeployManifests.documents("base/configmap.yaml"), file: FakeAPIDeployManifests.path("base/configmap.yaml"))
        let configDirectory = directory.appendingPathComponent("config")
        let accountDirectory = directory.appendingPathComponent("serviceaccount")
        try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: accountDirectory, withIntermediateDirectories: true)
        let configFile = configDirectory.appendingPathComponent("config.conf")
        try ProxyHarness.write(try #require(configMap.data["config.conf"]), to: configFile)
        try ProxyHarness.write(token, to: accountDirectory.appendingPathComponent("token"))
        try ProxyHarness.write(try String(contentsOfFile: caFile, encoding: .utf8), to: accountDirectory.appendingPathComponent("ca.crt"))
        try ProxyHarness.write("kube-system", to: accountDirectory.appendingPathComponent("namespace"))

        let script = """
            set -e
            mount -t tmpfs -o size=1m,mode=0755 kp-incluster /run
            mkdir -p /run/secrets/kubernetes.io/serviceaccount
            mount --bind "$0" \(serviceAccountMount)
            exec "$@"
            """
        let arguments =
            ["--config=\(configFile.path)", "--hostname-override=\(nodeName)"] + loopbackArguments + extra
        return try ChildProcess(
            executable: try #require(NetworkLab.which("unshare")),
            arguments: [
                "--mount", "--propagation", "private", "/bin/sh", "-c", script, accountDirectory.path, BuiltProducts.path("kube-proxy"),
            ]
                + arguments,
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": directory.path,
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": String(serverPort),
            ])
    }

    /// The port of the proxy's `serving NAME address="ip:port"` line.
    static func servingPort(_ proxy: ChildProcess, _ name: String) async -> Int? {
        guard let line = await proxy.waitForLine(timeout: .seconds(10), where: { $0.contains("serving \(name)") }) else { return nil }
        guard let range = line.range(of: "address=\"") else { return nil }
        let rest = line[range.upperBound...]
        guard let end = rest.firstIndex(of: "\""), let colon = rest[..<end].lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)..<end])
    }

    /// `GET path` on the proxy's health port: status and body.
    static func health(_ port: Int, _ path: String) throws -> (status: Int, body: String) {
        let probe = try HTTPProbe(host: "127.0.0.1", port: port)
        let body = try probe.get(path, closeAfter: true)
        return (probe.lastStatus, body)
    }

    /// With the deployed role the proxy loads, proxies and follows changes, and nothing it asks
    /// for is denied; the same with the legacy-endpoints overlay and `--use-endpoints`.
    @Test(arguments: [false, true])
    func theDeployedRoleIsEnough(legacyEndpoints: Bool) async throws {
        if let reason = Self.missingPrerequisite() {
            print("skipped: \(reason)")
            return
        }
        let policy = legacyEndpoints ? try Self.legacyEndpointsPolicy() : try Self.basePolicy()
        let rehearsal = try await Self.start(policy: policy, arguments: legacyEndpoints ? ["--use-endpoints"] : [])
        do {
            try await Self.expectServing(rehearsal)
        } catch {
            Issue.record("\(error); proxy log:\n\(rehearsal.log)")
        }
        await rehearsal.stop()
    }

    static func expectServing(_ rehearsal: Rehearsal) async throws {
        let proxy = try #require(rehearsal.proxy)
        let loaded = await proxy.waitForLine(timeout: .seconds(15)) { $0.contains("initial Services and endpoints loaded") }
        try #require(loaded != nil, "the proxy never loaded its objects")
        let connected = proxy.output.first { $0.contains("connecting to the API server") } ?? ""
        #expect(
            connected.contains("in-cluster service account") && connected.contains("127.0.0.1:\(rehearsal.server.port)"), "\(connected)")
        let port = try #require(await ProxyHarness.waitForListener(proxy, servicePort: "default/web:http", timeout: .seconds(5)))
        #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: port).contains("hello from backend-a"))
        // A change arrives through the watch: the Service gains a second port.
        let updated = try #require(rehearsal.server.get(Service.self, namespace: "default", name: "web"))
        var changed = updated
        changed.spec?.ports?.append(ServicePortSpec(name: "alt", protocol: "TCP", port: 81, targetPort: .int(8081)))
        _ = try rehearsal.server.update(changed)
        #expect(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/web:alt", timeout: .seconds(5)) != nil,
            "the watch did not deliver the change")

        let healthPort = try #require(await servingPort(proxy, "healthz"))
        let healthz = try health(healthPort, "/healthz")
        #expect(healthz.status == 200 && healthz.body.contains("\"nodeEligible\":true"), "\(healthz)")
        #expect(try health(healthPort, "/livez").status == 200)
        #expect(rehearsal.server.forbiddenRequests.isEmpty, "denied: \(rehearsal.server.forbiddenRequests)")
        // "403 Forbidden", not a bare "403": ports in the log may contain those digits.
        #expect(!proxy.output.contains { $0.contains("403 Forbidden") || $0.contains("is forbidden") })
    }

    /// One rule of one role, for the parameterised minimality test.
    struct RuleCase: Sendable, CustomTestStringConvertible {
        let role: String
        let index: Int
        let resource: String
        let legacyEndpoints: Bool
        var testDescription: String { "\(role) rules[\(index)] (\(resource))" }
    }

    /// Every rule of every role `deploy/` ships: the base role's with the base configuration,
    /// the overlay's with `--use-endpoints`.
    static func ruleCases() throws -> [RuleCase] {
        let base = try basePolicy()
        let overlay = try FakeAPIRBAC.load(files: FakeAPIDeployManifests.legacyEndpointsRBACFiles)
        func cases(_ policy: FakeAPIRBAC, legacy: Bool) -> [RuleCase] {
            policy.roles.flatMap { role in
                role.rules.indices.map { index in
                    RuleCase(
                        role: role.name, index: index, resource: role.rules[index].resources.joined(separator: ","), legacyEndpoints: legacy
                    )
                }
            }
        }
        return cases(base, legacy: false) + cases(overlay, legacy: true)
    }

    /// Without any one rule the proxy fails loudly: it logs the API server's 403 naming the
    /// resource, the server records the denial, and the proxy does not get where it should —
    /// no objects loaded (Services, EndpointSlices, Endpoints) or, for Nodes, no node
    /// eligibility in `/healthz` (the proxy syncs without its Node, as upstream does).
    @Test(arguments: try ruleCases())
    func everyRuleIsNeeded(_ rule: RuleCase) async throws {
        if let reason = Self.missingPrerequisite() {
            print("skipped: \(reason)")
            return
        }
        let full = rule.legacyEndpoints ? try Self.legacyEndpointsPolicy() : try Self.basePolicy()
        let policy = full.removingRule(rule.index, ofRole: rule.role)
        let rehearsal = try await Self.start(policy: policy, arguments: rule.legacyEndpoints ? ["--use-endpoints"] : [])
        do {
            try await Self.expectFailure(rehearsal, resource: rule.resource)
        } catch {
            Issue.record("\(error); proxy log:\n\(rehearsal.log)")
        }
        await rehearsal.stop()
    }

    static func expectFailure(_ rehearsal: Rehearsal, resource: String) async throws {
        let proxy = try #require(rehearsal.proxy)
        let denied = await proxy.waitForLine(timeout: .seconds(10)) { $0.contains("403 Forbidden") && $0.contains("/\(resource)?") }
        try #require(denied != nil, "no 403 naming \(resource) was logged")
        #expect(denied.map { $0.contains("is forbidden: User ") && $0.contains("system:serviceaccount:") } == true, "\(denied ?? "")")
        #expect(
            rehearsal.server.forbiddenRequests.contains { $0.message.hasPrefix("\(resource) ") || $0.message.hasPrefix("\(resource).") },
            "\(rehearsal.server.forbiddenRequests)")
        let healthPort = try #require(await servingPort(proxy, "healthz"))
        if resource == "nodes" {
            _ = await proxy.waitForLine(timeout: .seconds(10)) { $0.contains("initial Services and endpoints loaded") }
            let healthz = try health(healthPort, "/healthz")
            #expect(!healthz.body.contains("nodeEligible"), "\(healthz)")
        } else {
            // Allowed lists answer within milliseconds; two seconds leave no doubt.
            let loaded = await proxy.waitForLine(timeout: .seconds(2)) { $0.contains("initial Services and endpoints loaded") }
            #expect(loaded == nil, "the proxy loaded its objects without \(resource)")
            #expect(!proxy.output.contains { $0.contains("servicePort=\"default/web:http\"") && $0.contains("listen=") })
        }
    }
}
