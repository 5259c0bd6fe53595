/// One line of `iptables-restore` input inside a table: a chain declaration or a command.
///
/// Reconcilers return these instead of text so their result can be asserted as a value and
/// applied by the fake exactly as the kernel would; `line` is the only place they become text.
public enum IPTablesCommand: Hashable, Sendable {
    /// `:NAME POLICY [0:0]`. With `--noflush`, a user chain (policy `nil`, printed `-`) is
    /// created when missing and *flushed* when present; a built-in chain gets its policy set.
    case declareChain(name: String, policy: String?)
    /// `-A CHAIN args…`: append.
    case append(IPTablesRule)
    /// `-I CHAIN POSITION args…`: insert so the rule becomes number `position` (1-based).
    case insert(IPTablesRule, position: Int)
    /// `-D CHAIN args…`: delete the first rule matching the specification.
    case delete(IPTablesRule)
    /// `-D CHAIN NUMBER`: delete the rule at a 1-based position.
    case deleteNumber(chain: String, number: Int)
    /// `-N CHAIN`: create a user chain (an error if it exists).
    case newChain(String)
    /// `-F CHAIN`: remove all rules of a chain.
    case flushChain(String)
    /// `-X CHAIN`: delete an empty, unreferenced user chain.
    case deleteChain(String)
    /// `-P CHAIN POLICY`: set a built-in chain's policy.
    case setPolicy(chain: String, policy: String)

    /// The restore line, quoted where needed.
    public var line: String {
        switch self {
        case .declareChain(let name, let policy): return ":\(name) \(policy ?? "-") [0:0]"
        case .append(let rule): return IPTablesTokenizer.join(["-A", rule.chain] + rule.arguments)
        case .insert(let rule, let position):
            return IPTablesTokenizer.join(["-I", rule.chain, String(position)] + rule.arguments)
        case .delete(let rule): return IPTablesTokenizer.join(["-D", rule.chain] + rule.arguments)
        case .deleteNumber(let chain, let number): return IPTablesTokenizer.join(["-D", chain, String(number)])
        case .newChain(let chain): return IPTablesTokenizer.join(["-N", chain])
        case .flushChain(let chain): return IPTablesTokenizer.join(["-F", chain])
        case .deleteChain(let chain): return IPTablesTokenizer.join(["-X", chain])
        case .setPolicy(let chain, let policy): return IPTablesTokenizer.join(["-P", chain, policy])
        }
    }

    /// Appends `line` to `out`; rule commands without building the line first.
    public func write(to out: inout String) {
        switch self {
        case .append(let rule):
            out.append("-A ")
            out.append(IPTablesTokenizer.quoteIfNeeded(rule.chain))
            IPTablesTokenizer.appendArguments(of: rule, to: &out)
        case .declareChain(let name, let policy):
            out.append(":")
            out.append(name)
            out.append(" ")
            out.append(policy ?? "-")
            out.append(" [0:0]")
        default:
            out.append(line)
        }
    }

    /// The chain the command acts on.
    public var chain: String {
        switch self {
        case .declareChain(let name, _): return name
        case .append(let rule), .insert(let rule, _), .delete(let rule): return rule.chain
        case .deleteNumber(let chain, _), .newChain(let chain), .flushChain(let chain), .deleteChain(let chain),
            .setPolicy(let chain, _):
            return chain
        }
    }

    /// Parses one restore line (not `*table` / `COMMIT`); `nil` for anything this type does
    /// not model (so callers report it with their own line number).
    public init?(line: some StringProtocol) {
        let trimmed = line.trimmingLineSpace()
        if trimmed.hasPrefix(":") {
            let fields = trimmed.dropFirst().split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 || fields.count == 3, !fields[0].isEmpty else { return nil }
            self = .declareChain(name: String(fields[0]), policy: fields[1] == "-" ? nil : String(fields[1]))
            return
        }
        guard var arguments = IPTablesTokenizer.split(trimmed) else { return nil }
        if let first = arguments.first, first.hasPrefix("["), first.hasSuffix("]") { arguments.removeFirst() }
        guard arguments.count >= 2 else { return nil }
        let chain = arguments[1]
        let rest = Array(arguments.dropFirst(2))
        switch arguments[0] {
        case "-A", "--append":
            self = .append(IPTablesRule(chain: chain, arguments: rest))
        case "-I", "--insert":
            if let first = rest.first, let position = Int(first) {
                self = .insert(IPTablesRule(chain: chain, arguments: Array(rest.dropFirst())), position: position)
            } else {
                self = .insert(IPTablesRule(chain: chain, arguments: rest), position: 1)
            }
        case "-D", "--delete":
            if rest.count == 1, let number = Int(rest[0]) {
                self = .deleteNumber(chain: chain, number: number)
            } else {
                self = .delete(IPTablesRule(chain: chain, arguments: rest))
            }
        case "-N", "--new-chain":
            guard rest.isEmpty else { return nil }
            self = .newChain(chain)
        case "-F", "--flush":
            guard rest.isEmpty else { return nil }
            self = .flushChain(chain)
        case "-X", "--delete-chain":
            guard rest.isEmpty else { return nil }
            self = .deleteChain(chain)
        case "-P", "--policy":
            guard rest.count == 1 else { return nil }
            self = .setPolicy(chain: chain, policy: rest[0])
        default: return nil
        }
    }
}
