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
