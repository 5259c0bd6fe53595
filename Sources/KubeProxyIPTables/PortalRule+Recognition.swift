import KubeProxyCore

extension PortalRule {
    /// Recognises a rule in any argument order (ours or iptables-save's); `nil` when the rule
    /// uses anything outside the userspace mode's vocabulary.
    ///
    /// Accepted: `-m comment --comment C` (a repeated identical comment is tolerated, as very
    /// old versions wrote one), `-p P` with `-m P --dport N`, `-d IP[/32|/128]`,
    /// `-m physdev ! --physdev-is-in`, `-m addrtype --dst-type LOCAL`, `-m state --state NEW`,
    /// and targets `REDIRECT --to-ports N`, `DNAT --to-destination IP:N`, `ACCEPT`, or one of the
    /// five `PortalChain`s.
    public init?(_ rule: IPTablesRule) {
        var scan = PortalRuleScanner(arguments: rule.arguments)
        guard let parts = scan.run() else { return nil }
        self.init(
            chain: rule.chain, comment: parts.comment, protocol: parts.protocol,
            destinationPort: parts.destinationPort, destination: parts.destination,
            notFromBridge: parts.notFromBridge, destinationIsLocal: parts.destinationIsLocal,
            newConnectionsOnly: parts.newConnectionsOnly, target: parts.target)
    }
}

/// Walks an argument list once, collecting the pieces a `PortalRule` is made of.
struct PortalRuleScanner {
    struct Parts {
        var comment: String?
        var `protocol`: TransportProtocol?
        var destinationPort: Int?
        var destination: IPAddress?
        var notFromBridge = false
        var destinationIsLocal = false
        var newConnectionsOnly = false
        var target: PortalRule.Target = .accept
    }

    let arguments: [String]
    var index = 0
    var parts = Parts()
    var protocolModule: String?
    var sawTarget = false

    init(arguments: [String]) {
        self.arguments = arguments
    }

    /// The collected parts, or `nil` on anything unknown or inconsistent.
    mutating func run() -> Parts? {
        while index < arguments.count {
            guard step() else { return nil }
        }
        guard sawTarget else { return nil }
        // A port match needs its protocol and the matching protocol module.
        if let module = protocolModule, module != parts.protocol?.lowercased { return nil }
        if parts.destinationPort != nil && protocolModule == nil { return nil }
        return parts
    }

    private mutating func next() -> String? {
        guard index < arguments.count else { return nil }
        defer { index += 1 }
        return arguments[index]
    }

    /// Consumes one option with its values; `false` when it is not ours.
    private mutating func step() -> Bool {
        guard let word = next() else { return false }
        switch word {
        case "-m", "--match":
            guard let module = next() else { return false }
            switch module {
            case "comment", "physdev", "addrtype", "state": return true
            case "tcp", "udp", "sctp":
                guard protocolModule == nil || protocolModule == module else { return false }
                protocolModule = module
                return true
            default: return false
            }
        case "--comment":
            guard let text = next(), parts.comment == nil || parts.comment == text else { return false }
            parts.comment = text
        case "-p", "--protocol":
            guard parts.protocol == nil, let name = next(), let proto = TransportProtocol(rawValue: name.uppercased()) else {
                return false
            }
            parts.protocol = proto
        case "--dport", "--destination-port":
            guard parts.destinationPort == nil, let text = next(), let port = Int(text), (1...65535).contains(port) else {
                return false
            }
            parts.destinationPort = port
        case "-d", "--destination", "--dst":
            guard parts.destination == nil, let text = next(), let address = Self.hostAddress(text) else { return false }
            parts.destination = address
        case "!":
            guard next() == "--physdev-is-in" else { return false }
            parts.notFromBridge = true
        case "--dst-type":
            guard next() == "LOCAL" else { return false }
            parts.destinationIsLocal = true
        case "--state":
            guard next() == "NEW" else { return false }
            parts.newConnectionsOnly = true
        case "-j", "--jump":
            return scanTarget()
        default:
            return false
        }
        return true
    }

    /// Reads the target and its options, which must end the rule.
    private mutating func scanTarget() -> Bool {
        guard !sawTarget, let name = next() else { return false }
        sawTarget = true
        let options = Array(arguments[index...])
        index = arguments.count
        switch name {
        case "ACCEPT":
            guard options.isEmpty else { return false }
            parts.target = .accept
        case "REDIRECT":
            guard options.count == 2, options[0] == "--to-ports", let port = Int(options[1]), (1...65535).contains(port) else {
                return false
            }
            parts.target = .redirect(toPort: port)
        case "DNAT":
            guard options.count == 2, options[0] == "--to-destination", let (address, port) = Self.hostPort(options[1]) else {
                return false
            }
            parts.target = .dnat(address: address, port: port)
        default:
            // Only jumps into our own chains: any other name may be a target extension
            // (MASQUERADE, MARK…) whose meaning we do not model.
            guard options.isEmpty, PortalChain(rawValue: name) != nil else { return false }
            parts.target = .jump(name)
        }
        return true
    }

    /// `IP`, `IP/32` or `IP/128` — a single host; wider prefixes are not ours.
    static func hostAddress(_ text: String) -> IPAddress? {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count <= 2, let address = IPAddress(pieces[0]) else { return nil }
        if pieces.count == 2 {
            guard Int(pieces[1]) == (address.family == .ipv4 ? 32 : 128) else { return nil }
        }
        return address
    }

    /// `a.b.c.d:PORT` or `[v6]:PORT`.
    static func hostPort(_ text: String) -> (IPAddress, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = text[..<colon]
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return nil }
            host = host.dropFirst().dropLast()
            guard let address = IPAddress(host), address.family == .ipv6 else { return nil }
            return (address, port)
        }
        guard let address = IPAddress(host), address.family == .ipv4 else { return nil }
        return (address, port)
    }
}
