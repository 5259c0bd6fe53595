/// Service-account tokens and the RBAC policy the fake server enforces for them, as
/// kube-apiserver does with `--authorization-mode=RBAC`.
///
/// A request with one of ``tokens`` is that user and may do only what ``policy`` (plus the
/// default ``FakeAPIRBAC/defaultDiscovery``) allows; anything else is answered with a 403
/// `Forbidden` Status worded as the real server words it. The server's own token and verified
/// client certificates stay administrators (`system:masters`), so tests and kubectl can still
/// set up objects.
public struct FakeAPIAuthorization: Sendable, Hashable {
    /// The roles and bindings in force, the defaults included.
    public var policy: FakeAPIRBAC
    /// Bearer token → the user it authenticates.
    public var tokens: [String: FakeAPIUser]

    /// Enforces `policy` (merged with the default discovery role) for the users of `tokens`.
    public init(policy: FakeAPIRBAC, tokens: [String: FakeAPIUser]) {
        self.policy = FakeAPIRBAC.defaultDiscovery.merging(policy)
        self.tokens = tokens
    }
}

/// A request the RBAC policy refused, as recorded for assertions (``FakeAPIServer/forbiddenRequests``).
public struct FakeAPIForbiddenRequest: Sendable, Hashable, CustomStringConvertible {
    /// Who asked.
    public var user: String
    /// What was asked.
    public var access: FakeAPIAccess
    /// The Status message sent back.
    public var message: String

    /// The message.
    public var description: String { message }
}
