import Foundation
import Yams

/// Reading ClusterRoles and ClusterRoleBindings from manifests, such as those in `deploy/`.
extension FakeAPIRBAC {
    /// The ClusterRoles and ClusterRoleBindings (`rbac.authorization.k8s.io/v1`) among the
    /// documents of `yaml`; every other kind is skipped.
    ///
    /// - Throws: ``FakeAPIServerError/file(path:reason:)`` naming `file`, the document number
    ///   and the field when the YAML or an RBAC object is malformed.
    public static func parse(yaml: String, file: String) throws(FakeAPIServerError) -> FakeAPIRBAC {
        let documents: [Any]
        do {
            documents = Array(try Yams.load_all(yaml: yaml)).compactMap { $0 }
        } catch {
            throw .file(path: file, reason: "not valid YAML: \(error)")
        }
        var policy = FakeAPIRBAC()
        for (index, document) in documents.enumerated() {
            var reader = Reader(file: file, document: index + 1)
            guard let object = document as? [String: Any] else { throw reader.fail("", "expected an object") }
            guard (object["apiVersion"] as? String) == "rbac.authorization.k8s.io/v1" else { continue }
            let name = try reader.string(object["metadata"].flatMap { ($0 as? [String: Any])?["name"] }, "metadata.name")
            reader.object = name
            switch object["kind"] as? String {
            case "ClusterRole":
                let rules = try reader.list(object["rules"] ?? [Any](), "rules").enumerated().map {
                    index, value throws(FakeAPIServerError) in
                    try reader.rule(value, "rules[\(index)]")
                }
                policy.roles.append(ClusterRole(name: name, rules: rules))
            case "ClusterRoleBinding":
                let roleRef = try reader.map(object["roleRef"], "roleRef")
                guard (roleRef["kind"] as? String) == "ClusterRole" else { throw reader.fail("roleRef.kind", "expected ClusterRole") }
                let subjects = try reader.list(object["subjects"] ?? [Any](), "subjects").enumerated().map {
                    index, value throws(FakeAPIServerError) in
                    let subject = try reader.map(value, "subjects[\(index)]")
                    return Subject(
                        kind: try reader.string(subject["kind"], "subjects[\(index)].kind"),
                        name: try reader.string(subject["name"], "subjects[\(index)].name"),
                        namespace: subject["namespace"] as? String)
                }
                policy.bindings.append(
                    ClusterRoleBinding(name: name, roleName: try reader.string(roleRef["name"], "roleRef.name"), subjects: subjects))
            default:
                continue
            }
        }
        return policy
    }

    /// ``parse(yaml:file:)`` over several files, merged in order.
    ///
    /// - Throws: ``FakeAPIServerError/file(path:reason:)`` for an unreadable or malformed file.
    public static func load(files: [String]) throws(FakeAPIServerError) -> FakeAPIRBAC {
        var policy = FakeAPIRBAC()
        for file in files {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw .file(path: file, reason: "cannot be read: \(error.localizedDescription)")
            }
            policy = policy.merging(try parse(yaml: text, file: file))
        }
        return policy
    }

    /// Typed access to one document's fields, failing with the file, document, object and field.
    private struct Reader {
        let file: String
        let document: Int
        var object = ""

        func fail(_ field: String, _ message: String) -> FakeAPIServerError {
            let where_ = object.isEmpty ? "document \(document)" : "document \(document) (\(object))"
            return .file(path: file, reason: field.isEmpty ? "\(where_): \(message)" : "\(where_): \(field): \(message)")
        }

        func string(_ value: Any?, _ field: String) throws(FakeAPIServerError) -> String {
            guard let text = value as? String, !text.isEmpty else { throw fail(field, "expected a non-empty string") }
            return text
        }

        func map(_ value: Any?, _ field: String) throws(FakeAPIServerError) -> [String: Any] {
            guard let map = value as? [String: Any] else { throw fail(field, "expected an object") }
            return map
        }

        func list(_ value: Any?, _ field: String) throws(FakeAPIServerError) -> [Any] {
            guard let list = value as? [Any] else { throw fail(field, "expected a list") }
            return list
        }

        func strings(_ value: Any?, _ field: String) throws(FakeAPIServerError) -> [String] {
            guard let value else { return [] }
            guard let list = value as? [Any], let strings = list as? [String] else { throw fail(field, "expected a list of strings") }
            return strings
        }

        func rule(_ value: Any, _ field: String) throws(FakeAPIServerError) -> PolicyRule {
            let rule = try map(value, field)
            let known: Set = ["apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"]
            if let unknown = rule.keys.sorted().first(where: { !known.contains($0) }) {
                throw fail("\(field).\(unknown)", "unknown field")
            }
            let verbs = try strings(rule["verbs"], "\(field).verbs")
            guard !verbs.isEmpty else { throw fail("\(field).verbs", "required") }
            return PolicyRule(
                apiGroups: try strings(rule["apiGroups"], "\(field).apiGroups"),
                resources: try strings(rule["resources"], "\(field).resources"), verbs: verbs,
                resourceNames: try strings(rule["resourceNames"], "\(field).resourceNames"),
                nonResourceURLs: try strings(rule["nonResourceURLs"], "\(field).nonResourceURLs"))
        }
    }
}
