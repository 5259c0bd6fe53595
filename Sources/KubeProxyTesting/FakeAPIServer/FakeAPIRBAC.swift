import KubeAPI

/// Role-based access control as kube-apiserver's RBAC authorizer applies it to cluster-wide
/// objects: ClusterRoles (rules of verbs × API groups × resources, resource names, non-resource
/// URLs) granted to users, groups and service accounts by ClusterRoleBindings.
///
/// The rules are the ones deployments ship: ``parse(yaml:file:)`` reads them from the same
/// multi-document YAML as `deploy/` (other kinds are skipped), so a test that authorizes with it
/// tests the manifests, not a copy. Namespaced Roles and RoleBindings are not modelled: a node
/// proxy reads every namespace, so only cluster roles can grant what it needs.
public struct FakeAPIRBAC: Sendable, Hashable {
    /// One `rules[]` entry of a ClusterRole. An empty list matches nothing, `*` everything,
    /// except `resourceNames`, where empty means every name.
    public struct PolicyRule: Sendable, Hashable {
        /// API groups (`""` is the core group).
        public var apiGroups: [String]
        /// Plural resource names (`services`).
        public var resources: [String]
        /// Verbs: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
        public var verbs: [String]
        /// Object names the rule is limited to; empty: any.
        public var resourceNames: [String]
        /// Paths for non-resource requests (`/apis`, `/version`); a trailing `*` matches a prefix.
        public var nonResourceURLs: [String]

        /// Creates a rule.
        public init(
            apiGroups: [String] = [], resources: [String] = [], verbs: [String], resourceNames: [String] = [],
            nonResourceURLs: [String] = []
        ) {
            self.apiGroups = apiGroups
            self.resources = resources
            self.verbs = verbs
            self.resourceNames = resourceNames
            self.nonResourceURLs = nonResourceURLs
        }
    }

    /// A ClusterRole: a name and its rules.
    public struct ClusterRole: Sendable, Hashable {
        /// `metadata.name`.
        public var name: String
        /// `rules`, in file order (tests remove them by index).
        public var rules: [PolicyRule]

        /// Creates a role.
        public init(name: String, rules: [PolicyRule]) {
            self.name = name
            self.rules = rules
        }
    }

    /// A binding subject: a `User`, a `Group` or a `ServiceAccount` (with its namespace).
    public struct Subject: Sendable, Hashable {
        /// `User`, `Group` or `ServiceAccount`.
        public var kind: String
        /// The user, group or account name.
        public var name: String
        /// The namespace of a `ServiceAccount`.
        public var namespace: String?

        /// Creates a subject.
        public init(kind: String, name: String, namespace: String? = nil) {
            self.kind = kind
            self.name = name
            self.namespace = namespace
        }

        /// Whether `user` is this subject (a service account is the user
        /// `system:serviceaccount:NAMESPACE:NAME`).
        func matches(_ user: FakeAPIUser) -> Bool {
            switch kind {
            case "User": user.name == name
            case "Group": user.groups.contains(name)
            case "ServiceAccount": user.name == FakeAPIUser.serviceAccount(namespace: namespace ?? "", name: name).name
            default: false
            }
        }
    }

    /// A ClusterRoleBinding: which subjects get which ClusterRole.
    public struct ClusterRoleBinding: Sendable, Hashable {
        /// `metadata.name`.
        public var name: String
        /// `roleRef.name` (a ClusterRole).
        public var roleName: String
        /// `subjects`.
        public var subjects: [Subject]

        /// Creates a binding.
        public init(name: String, roleName: String, subjects: [Subject]) {
            self.name = name
            self.roleName = roleName
            self.subjects = subjects
        }
    }

    /// The cluster roles, by name order of appearance.
    public var roles: [ClusterRole]
    /// The bindings.
    public var bindings: [ClusterRoleBinding]

    /// Creates a policy.
    public init(roles: [ClusterRole] = [], bindings: [ClusterRoleBinding] = []) {
        self.roles = roles
        self.bindings = bindings
    }

    /// kube-apiserver's default `system:discovery` role bound to every authenticated user:
    /// discovery documents, `/version`, OpenAPI and health paths. A real cluster has it, so
    /// deployments do not grant it themselves.
    public static let defaultDiscovery = FakeAPIRBAC(
        roles: [
            ClusterRole(
                name: "system:discovery",
                rules: [
                    PolicyRule(
                        verbs: ["get"],
                        nonResourceURLs: [
                            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                            "/version", "/version/",
                        ])
                ])
        ],
        bindings: [
            ClusterRoleBinding(
                name: "system:discovery", roleName: "system:discovery", subjects: [Subject(kind: "Group", name: "system:authenticated")])
        ])

    /// This policy plus `other`'s roles and bindings.
    public func merging(_ other: FakeAPIRBAC) -> FakeAPIRBAC {
        FakeAPIRBAC(roles: roles + other.roles, bindings: bindings + other.bindings)
    }

    /// This policy without rule `index` of the role `role` (to prove each rule is needed).
    public func removingRule(_ index: Int, ofRole role: String) -> FakeAPIRBAC {
        var copy = self
        for position in copy.roles.indices where copy.roles[position].name == role {
            copy.roles[position].rules.remove(at: index)
        }
        return copy
    }

    /// Whether any binding of `user` grants a role with a rule that allows `attributes`
    /// (RBAC only allows; anything no rule allows is forbidden).
    public func allows(_ user: FakeAPIUser, _ attributes: FakeAPIAccess) -> Bool {
        let granted = Set(bindings.filter { $0.subjects.contains { $0.matches(user) } }.map(\.roleName))
        return roles.contains { role in
            granted.contains(role.name) && role.rules.contains { $0.allows(attributes) }
        }
    }
}

extension FakeAPIRBAC.PolicyRule {
    /// RBAC's `RuleAllows`: every dimension of the request matches.
    func allows(_ access: FakeAPIAccess) -> Bool {
        guard Self.has(verbs, access.verb) else { return false }
        switch access.target {
        case .resource(let group, let resource, _, let name):
            guard Self.has(apiGroups, group), Self.has(resources, resource) else { return false }
            return resourceNames.isEmpty || (name.map { resourceNames.contains($0) } ?? false)
        case .path(let path):
            return nonResourceURLs.contains { pattern in
                pattern == "*" || pattern == path || (pattern.hasSuffix("*") && path.hasPrefix(pattern.dropLast()))
            }
        }
    }

    private static func has(_ list: [String], _ value: String) -> Bool {
        list.contains("*") || list.contains(value)
    }
}

/// Who sent a request, as the authenticator found it.
public struct FakeAPIUser: Sendable, Hashable, CustomStringConvertible {
    /// The user name, e.g. `system:serviceaccount:kube-system:swift-kube-proxy`.
    public var name: String
    /// Its groups, e.g. `system:serviceaccounts`, `system:authenticated`.
    public var groups: [String]

    /// Creates a user.
    public init(name: String, groups: [String]) {
        self.name = name
        self.groups = groups
    }

    /// A service account's user and groups, as a service-account token authenticates.
    public static func serviceAccount(namespace: String, name: String) -> FakeAPIUser {
        FakeAPIUser(
            name: "system:serviceaccount:\(namespace):\(name)",
            groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }

    /// The administrator: the server's own token or a client certificate (`system:masters`,
    /// which RBAC never checks).
    public static let administrator = FakeAPIUser(name: "kubernetes-admin", groups: ["system:masters", "system:authenticated"])

    /// Whether RBAC is bypassed, as kube-apiserver does for `system:masters`.
    var isSuperuser: Bool { groups.contains("system:masters") }

    /// The name.
    public var description: String { name }
}

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
