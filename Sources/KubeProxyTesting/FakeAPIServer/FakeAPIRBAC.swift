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

    /// The cluster roles, in the order they were read.
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
