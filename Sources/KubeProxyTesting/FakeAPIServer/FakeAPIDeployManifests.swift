import Foundation
import Yams

/// The repository's deployment manifests (`deploy/`), read by tests so they check what operators
/// apply rather than a copy: the RBAC objects the fake API server enforces and the
/// `KubeProxyConfiguration` in the ConfigMap.
public enum FakeAPIDeployManifests {
    /// `<package root>/deploy`.
    public static var directory: URL {
        Fixtures.packageRoot.appendingPathComponent("deploy", isDirectory: true)
    }

    /// The path of `relative` (e.g. `base/clusterrole.yaml`) under ``directory``.
    public static func path(_ relative: String) -> String {
        directory.appendingPathComponent(relative).path
    }

    /// The ServiceAccount, ClusterRole and ClusterRoleBinding files of `deploy/` (`kubectl apply -k deploy/`).
    public static var baseRBACFiles: [String] {
        ["base/serviceaccount.yaml", "base/clusterrole.yaml", "base/clusterrolebinding.yaml"].map(path)
    }

    /// What the `legacy-endpoints` overlay adds to ``baseRBACFiles``.
    public static var legacyEndpointsRBACFiles: [String] {
        ["legacy-endpoints/clusterrole.yaml", "legacy-endpoints/clusterrolebinding.yaml"].map(path)
    }

    /// The YAML documents of `relative` as plain values (mappings are `[String: Any]`).
    ///
    /// - Throws: ``FakeAPIServerError/file(path:reason:)`` when the file is unreadable or not YAML.
    public static func documents(_ relative: String) throws(FakeAPIServerError) -> [Any] {
        try documents(atPath: path(relative))
    }

    /// The YAML documents of the file at `file` (absolute, or relative to the working directory).
    ///
    /// - Throws: ``FakeAPIServerError/file(path:reason:)`` when the file is unreadable or not YAML.
    public static func documents(atPath file: String) throws(FakeAPIServerError) -> [Any] {
        do {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            return Array(try Yams.load_all(yaml: text)).compactMap { $0 }
        } catch {
            throw .file(path: file, reason: "cannot be read as YAML: \(error)")
        }
    }

    /// The first ConfigMap among `documents`: its name, namespace and `data` entries.
    ///
    /// - Throws: ``FakeAPIServerError/file(path:reason:)`` naming `file` when there is none or
    ///   it lacks a name, a namespace or string data.
    public static func configMap(in documents: [Any], file: String) throws(FakeAPIServerError) -> (
        name: String, namespace: String, data: [String: String]
    ) {
        for case let object as [String: Any] in documents where object["kind"] as? String == "ConfigMap" {
            let metadata = object["metadata"] as? [String: Any] ?? [:]
            guard let name = metadata["name"] as? String, let namespace = metadata["namespace"] as? String,
                let data = object["data"] as? [String: String]
            else {
                throw .file(path: file, reason: "the ConfigMap lacks metadata.name, metadata.namespace or string data")
            }
            return (name, namespace, data)
        }
        throw .file(path: file, reason: "holds no ConfigMap")
    }

    /// The service accounts named as subjects of `policy`'s bindings, for minting their tokens.
    public static func serviceAccounts(in policy: FakeAPIRBAC) -> [FakeAPIUser] {
        var seen: [FakeAPIUser] = []
        for subject in policy.bindings.flatMap(\.subjects) where subject.kind == "ServiceAccount" {
            let user = FakeAPIUser.serviceAccount(namespace: subject.namespace ?? "", name: subject.name)
            if !seen.contains(user) { seen.append(user) }
        }
        return seen
    }
}
