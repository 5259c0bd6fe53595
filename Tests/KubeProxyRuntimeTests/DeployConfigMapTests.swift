import Foundation
import KubeProxyCore
import KubeProxyRuntime
import KubeProxyTesting
import Testing

/// The `KubeProxyConfiguration` that `deploy/` ships is one the proxy's own `--config` reader
/// accepts, and the DaemonSet hands it to the proxy at the path its `--config` flag names.
@Suite("deploy/ ConfigMap")
struct DeployConfigMapTests {
    static let file = FakeAPIDeployManifests.path("base/configmap.yaml")

    @Test func theShippedConfigurationIsAcceptedByTheProxysReader() throws {
        let configMap = try FakeAPIDeployManifests.configMap(
            in: try FakeAPIDeployManifests.documents("base/configmap.yaml"), file: Self.file)
        let text = try #require(configMap.data["config.conf"], "the ConfigMap has no config.conf")
        let config = try ConfigurationFile.parse(text, file: "\(Self.file) (config.conf)")
        #expect(config.mode == .userspace, "userspace is the only implemented mode")
        #expect(config.clientConnection.kubeconfig.isEmpty, "in-cluster service account, no kubeconfig")
        #expect(config.healthzBindAddress == "0.0.0.0:10256", "the kubelet probes /healthz and /livez on the node address")
        #expect(config.udpIdleTimeout >= .seconds(5), "DNS through the proxy needs more than upstream's 250ms")
    }

    @Test func theDaemonSetMountsTheConfigMapWhereItsConfigFlagPoints() throws {
        let configMap = try FakeAPIDeployManifests.configMap(
            in: try FakeAPIDeployManifests.documents("base/configmap.yaml"), file: Self.file)
        let daemonSet = try #require(
            try FakeAPIDeployManifests.documents("base/daemonset.yaml").compactMap { $0 as? [String: Any] }.first {
                $0["kind"] as? String == "DaemonSet"
            })
        let pod = try #require(((daemonSet["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let arguments = container["args"] as? [String] ?? []
        let configPath = try #require(arguments.first { $0.hasPrefix("--config=") }?.dropFirst("--config=".count))
        #expect(arguments.contains("--hostname-override=$(NODE_NAME)"))

        let volumes = pod["volumes"] as? [[String: Any]] ?? []
        let volume = try #require(volumes.first { ($0["configMap"] as? [String: Any])?["name"] as? String == configMap.name })
        let mount = try #require(
            (container["volumeMounts"] as? [[String: Any]])?.first { $0["name"] as? String == volume["name"] as? String })
        let mountPath = try #require(mount["mountPath"] as? String)
        #expect(configPath == "\(mountPath)/config.conf")
        #expect(configMap.data.keys.contains("config.conf"))
        #expect(configMap.namespace == daemonSet["metadata"].flatMap { ($0 as? [String: Any])?["namespace"] as? String })
    }

    /// What `kubectl kustomize deploy/` renders carries the same configuration (kustomize could
    /// rewrite data only through a patch or generator; this catches one added later).
    @Test func theRenderedConfigMapCarriesTheSameConfiguration() throws {
        guard let kubectl = NetworkLab.which("kubectl") else {
            print("skipped: kubectl is not installed (it is not in Debian's archive); scripts/check-deploy.sh renders without it")
            return
        }
        let rendered = FileManager.default.temporaryDirectory.appendingPathComponent("kp-deploy-\(UUID().uuidString.prefix(8)).yaml")
        defer { try? FileManager.default.removeItem(at: rendered) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kubectl)
        process.arguments = ["kustomize", FakeAPIDeployManifests.directory.path, "-o", rendered.path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "kubectl kustomize deploy/ failed")
        let renderedMap = try FakeAPIDeployManifests.configMap(
            in: try FakeAPIDeployManifests.documents(atPath: rendered.path), file: rendered.path)
        let source = try FakeAPIDeployManifests.configMap(in: try FakeAPIDeployManifests.documents("base/configmap.yaml"), file: Self.file)
        #expect(renderedMap.data == source.data)
        _ = try ConfigurationFile.parse(try #require(renderedMap.data["config.conf"]), file: "\(rendered.path) (config.conf)")
    }
}
