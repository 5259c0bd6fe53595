/// One chain of a table with its rules in evaluation order.
public struct IPTablesChain: Hashable, Sendable {
    /// The chain name, e.g. `PREROUTING` or `KUBE-PORTALS-CONTAINER`.
    public var name: String
    /// The policy of a built-in chain (`ACCEPT`, `DROP`); `nil` for a user chain (`-` in text).
    public var policy: String?
    /// The rules in order; every rule's `chain` equals `name`.
    public var rules: [IPTablesRule]

    /// Creates a chain; `policy` is `nil` for user-defined chains.
    public init(name: String, policy: String? = nil, rules: [IPTablesRule] = []) {
        self.name = name
        self.policy = policy
        self.rules = rules
    }

    /// Whether this is a built-in chain (it has a policy).
    public var isBuiltin: Bool { policy != nil }

    /// The chain declaration line, `:NAME POLICY [0:0]` (policy `-` for user chains).
    public var declarationLine: String { ":\(name) \(policy ?? "-") [0:0]" }
}
