/// Which node addresses accept NodePort traffic (`--nodeport-addresses`), for one IP family.
///
/// Upstream semantics: a list of CIDRs and the keyword `primary` (the node's primary IPs).
/// When no entry applies to this family, every local address matches ("match all"), which the
/// renderers express as "destination is a local address" rather than listing addresses.
/// nftables mode defaults to `primary`; iptables mode to match-all.
public struct NodePortAddresses: Hashable, Sendable {
    /// The prefixes of this family.
    public var cidrs: [CIDR]
    /// Whether `primary` was given: the node's primary IPs of this family match too.
    public var includesPrimary: Bool

    /// Parses the flag's entries for `family`; entries of the other family are ignored, and
    /// unparsable ones too (configuration validation reports them before we get here).
    /// `all` and `localhost` are accepted spellings (`localhost` = the loopback prefix).
    public init(_ entries: [String], family: IPFamily) {
        var cidrs: [CIDR] = []
        var primary = false
        for entry in entries.map({ $0.trimmingWhitespace() }) {
            switch entry {
            case "primary": primary = true
            case "all": continue
            case "localhost":
                if let loopback = CIDR(family == .ipv4 ? "127.0.0.0/8" : "::1/128") { cidrs.append(loopback) }
            default:
                if let cidr = CIDR(entry), cidr.address.family == family { cidrs.append(cidr) }
            }
        }
        self.cidrs = cidrs
        self.includesPrimary = primary
    }

    /// Whether every local address of the family accepts NodePorts.
    public var matchesAll: Bool { cidrs.isEmpty && !includesPrimary }

    /// Whether `ip` is selected, given the node's primary IPs.
    public func matches(_ ip: IPAddress, primary: [IPAddress]) -> Bool {
        matchesAll || cidrs.contains { $0.contains(ip) } || (includesPrimary && primary.contains(ip))
    }

    /// The local addresses that accept NodePorts, sorted; meaningful only when not `matchesAll`.
    public func addresses(local: Set<IPAddress>, primary: [IPAddress]) -> [IPAddress] {
        var selected = Set(local.filter { matches($0, primary: primary) })
        if includesPrimary { selected.formUnion(primary) }
        return selected.sorted()
    }
}
