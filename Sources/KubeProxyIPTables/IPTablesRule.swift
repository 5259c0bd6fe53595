/// One rule: the chain it lives in and its argument list, in order.
///
/// The arguments are kept exactly as written (ours) or as printed (iptables-save's), never
/// re-spelled, so a rule read back can be deleted with `-D` using the very same arguments.
/// Compare rules structurally with `PortalRule`, not by their argument order: iptables-save
/// reorders (`-d`/`-p` move to the front).
public struct IPTablesRule: Hashable, Sendable, CustomStringConvertible {
    /// The chain that holds the rule.
    public var chain: String
    /// The arguments after `-A CHAIN`, e.g. `["-m", "comment", "--comment", "ns/svc", "-j", "ACCEPT"]`.
    public var arguments: [String]

    /// Creates a rule.
    public init(chain: String, arguments: [String]) {
        self.chain = chain
        self.arguments = arguments
    }

    /// The value of the last `-j` or `-g` option: where matching packets go.
    public var target: String? {
        var result: String?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            if arguments[index] == "-j" || arguments[index] == "--jump" || arguments[index] == "-g" || arguments[index] == "--goto",
                index + 1 < arguments.endIndex
            {
                result = arguments[index + 1]
                index += 1
            }
            index += 1
        }
        return result
    }

    /// The rule as an append line, `-A CHAIN args…`, quoted for iptables-restore.
    public var description: String { IPTablesTokenizer.join(["-A", chain] + arguments) }
}
