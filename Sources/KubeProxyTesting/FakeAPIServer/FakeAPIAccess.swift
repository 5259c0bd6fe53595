import KubeAPI

/// What a request asks to do, in RBAC's terms (kube-apiserver's `authorizer.Attributes`).
public struct FakeAPIAccess: Sendable, Hashable {
    /// What is addressed: a resource (with group, namespace and object name) or a plain path.
    public enum Target: Sendable, Hashable {
        /// An API resource; `namespace` and `name` are `nil` when the request has none.
        case resource(group: String, resource: String, namespace: String?, name: String?)
        /// A non-resource path, e.g. `/apis/discovery.k8s.io/v1`.
        case path(String)
    }

    /// The RBAC verb: `list`, `watch`, `get`, … for resources; the lowercased method for paths.
    public var verb: String
    /// What the verb applies to.
    public var target: Target

    /// Creates an access.
    public init(verb: String, target: Target) {
        self.verb = verb
        self.target = target
    }

    /// kube-apiserver's verb for a request on a route: `list`/`watch` on a collection,
    /// `get`/`watch` on an object, `create`, `update`, `patch`, `delete`, `deletecollection`; a
    /// list or watch with the field selector `metadata.name=NAME` carries that name, so
    /// `resourceNames` can allow it (as the real request-info resolver does).
    static func of(_ request: FakeAPIRequest, route: FakeAPIRoute) -> FakeAPIAccess {
        let method = request.method == "HEAD" ? "get" : request.method.lowercased()
        switch route {
        case .collection(let resource, let namespace):
            let verb =
                switch method {
                case "get": request.isWatch ? "watch" : "list"
                case "post": "create"
                case "delete": "deletecollection"
                default: method
                }
            let name = Self.nameSelected(by: request.query["fieldSelector"])
            return FakeAPIAccess(
                verb: verb, target: .resource(group: resource.group, resource: resource.rawValue, namespace: namespace, name: name))
        case .object(let resource, let namespace, let name):
            let verb =
                switch method {
                case "get": request.isWatch ? "watch" : "get"
                case "put": "update"
                default: method
                }
            return FakeAPIAccess(
                verb: verb, target: .resource(group: resource.group, resource: resource.rawValue, namespace: namespace, name: name))
        default:
            return FakeAPIAccess(verb: method, target: .path(request.path))
        }
    }

    /// `NAME` of a `metadata.name=NAME` (or `==`) term, the only term of its kind.
    private static func nameSelected(by selector: String?) -> String? {
        guard let selector else { return nil }
        let names = selector.split(separator: ",").compactMap { term -> String? in
            let parts = term.split(separator: "=", omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "metadata.name",
                !term.contains("!=")
            else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
        return names.count == 1 ? names[0] : nil
    }

    /// The 403 body kube-apiserver sends when no rule allows this access (its wording, so a
    /// client's logs read as they will in production), e.g. `endpointslices.discovery.k8s.io is
    /// forbidden: User "…" cannot list resource "endpointslices" in API group "discovery.k8s.io"
    /// at the cluster scope`.
    func forbidden(for user: FakeAPIUser) -> Status {
        switch target {
        case .path(let path):
            return FakeAPIStatus.failure(
                code: 403, reason: "Forbidden", message: "forbidden: User \"\(user.name)\" cannot \(verb) path \"\(path)\"",
                details: StatusDetails())
        case .resource(let group, let resource, let namespace, let name):
            let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
            let reason = "User \"\(user.name)\" cannot \(verb) resource \"\(resource)\" in API group \"\(group)\" \(scope)"
            let qualified = group.isEmpty ? resource : "\(resource).\(group)"
            let subject = name.map { "\(qualified) \"\($0)\"" } ?? qualified
            return FakeAPIStatus.failure(
                code: 403, reason: "Forbidden", message: "\(subject) is forbidden: \(reason)",
                details: StatusDetails(name: name, group: group.isEmpty ? nil : group, kind: resource))
        }
    }
}
