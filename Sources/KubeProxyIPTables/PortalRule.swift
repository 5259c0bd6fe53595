import KubeProxyCore

/// A userspace-proxy rule as a structure: what it matches and where it sends packets.
///
/// iptables-save prints rules in its own argument order (`-d` and `-p` first, `/32` added), so
/// comparing argument lists would make every check depend on spelling. This value is built
/// either from our own render or recognised from any argument order, and two rules are the
/// same when their `PortalRule`s are equal. It covers every kind of rule the userspace mode
/// writes: portal and NodePort rules (R1–R10 of docs/userspace-behaviour.md#portal-rules), the NodePort filter rule, and the parent
/// jumps (docs/userspace-behaviour.md#parent-jumps). Anything with an option it does not know is not a `PortalRule` (`nil`),
/// so foreign rules are never mistaken for ours.
public struct PortalRule: Hashable, Sendable, CustomStringConvertible {
    /// Where a matching packet goes.
    public enum Target: Hashable, Sendable {
        /// `-j REDIRECT --to-ports PORT`: to the proxy port on the incoming interface's address.
        case redirect(toPort: Int)
        /// `-j DNAT --to-destination IP:PORT` (`[v6]:PORT` for IPv6).
        case dnat(address: IPAddress, port: Int)
        /// `-j ACCEPT`.
        case accept
        /// `-j CHAIN`: a jump into one of the five `PortalChain`s (the parent jumps).
        case jump(String)
    }

    /// The chain holding the rule.
    public var chain: String
    /// The `-m comment --comment` text (`ns/name:port` for service rules).
    public var comment: String?
    /// `-p` protocol, present together with `destinationPort`.
    public var `protocol`: TransportProtocol?
    /// `--dport`.
    public var destinationPort: Int?
    /// `-d IP/32` (or `/128`): only host addresses are used by the userspace mode.
    public var destination: IPAddress?
    /// `-m physdev ! --physdev-is-in`: did not enter through a bridge port.
    public var notFromBridge: Bool
    /// `-m addrtype --dst-type LOCAL`: destination is an address of this node.
    public var destinationIsLocal: Bool
    /// `-m state --state NEW`.
    public var newConnectionsOnly: Bool
    /// The target.
    public var target: Target

    /// Creates a rule structure; every match defaults to absent.
    public init(
        chain: String,
        comment: String? = nil,
        protocol: TransportProtocol? = nil,
        destinationPort: Int? = nil,
        destination: IPAddress? = nil,
        notFromBridge: Bool = false,
        destinationIsLocal: Bool = false,
        newConnectionsOnly: Bool = false,
        target: Target
    ) {
        self.chain = chain
        self.comment = comment
        self.protocol = `protocol`
        self.destinationPort = destinationPort
        self.destination = destination
        self.notFromBridge = notFromBridge
        self.destinationIsLocal = destinationIsLocal
        self.newConnectionsOnly = newConnectionsOnly
        self.target = target
    }

    /// The argument list in upstream's order (docs/userspace-behaviour.md#rule-match):
    /// `-m comment --comment C -p P -m P --dport N [-d IP/32] [-m physdev ! --physdev-is-in]
    /// [-m addrtype --dst-type LOCAL] [-m state --state NEW]` and the target.
    public var arguments: [String] {
        var out: [String] = []
        if let comment { out += ["-m", "comment", "--comment", comment] }
        if let proto = self.protocol {
            out += ["-p", proto.lowercased, "-m", proto.lowercased]
            if let destinationPort { out += ["--dport", String(destinationPort)] }
        }
        if let destination { out += ["-d", Self.hostPrefix(destination)] }
        if notFromBridge { out += ["-m", "physdev", "!", "--physdev-is-in"] }
        if destinationIsLocal { out += ["-m", "addrtype", "--dst-type", "LOCAL"] }
        if newConnectionsOnly { out += ["-m", "state", "--state", "NEW"] }
        switch target {
        case .redirect(let port): out += ["-j", "REDIRECT", "--to-ports", String(port)]
        case .dnat(let address, let port): out += ["-j", "DNAT", "--to-destination", "\(address.bracketedDescription):\(port)"]
        case .accept: out += ["-j", "ACCEPT"]
        case .jump(let chain): out += ["-j", chain]
        }
        return out
    }

    /// Appends the restore line `-A CHAIN args…` (no newline) to `out`, exactly as
    /// `IPTablesCommand.append(rule).write(to:)` spells it, without building the argument list:
    /// a full write at 10k Services has 20,000+ rules, and their argument arrays and joined
    /// lines were megabytes alive at once (issue #9).
    public func writeAppend(to out: inout String) {
        out.append("-A ")
        out.append(IPTablesTokenizer.quoteIfNeeded(chain))
        if let comment {
            out.append(" -m comment --comment ")
            out.append(IPTablesTokenizer.quoteIfNeeded(comment, force: true))
        }
        if let proto = self.protocol {
            let name = proto.lowercased
            out.append(" -p ")
            out.append(name)
            out.append(" -m ")
            out.append(name)
            if let destinationPort {
                out.append(" --dport ")
                out.append(String(destinationPort))
            }
        }
        if let destination {
            out.append(" -d ")
            out.append(Self.hostPrefix(destination))
        }
        if notFromBridge { out.append(" -m physdev ! --physdev-is-in") }
        if destinationIsLocal { out.append(" -m addrtype --dst-type LOCAL") }
        if newConnectionsOnly { out.append(" -m state --state NEW") }
        switch target {
        case .redirect(let port):
            out.append(" -j REDIRECT --to-ports ")
            out.append(String(port))
        case .dnat(let address, let port):
            out.append(" -j DNAT --to-destination ")
            out.append(address.bracketedDescription)
            out.append(":")
            out.append(String(port))
        case .accept: out.append(" -j ACCEPT")
        case .jump(let chain):
            out.append(" -j ")
            out.append(IPTablesTokenizer.quoteIfNeeded(chain))
        }
    }

    /// The rule ready to append.
    public var rule: IPTablesRule { IPTablesRule(chain: chain, arguments: arguments) }

    /// The proxy port this rule sends traffic to (REDIRECT / DNAT), if any.
    public var proxyPort: Int? {
        switch target {
        case .redirect(let port), .dnat(_, let port): return port
        case .accept, .jump: return nil
        }
    }

    /// `-A CHAIN args…` in our order.
    public var description: String { rule.description }

    /// `IP/32` or `IP/128`.
    static func hostPrefix(_ address: IPAddress) -> String {
        "\(address)/\(address.family == .ipv4 ? 32 : 128)"
    }
}
