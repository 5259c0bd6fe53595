/// The structural content of the five portal chains in a rule set: what tests and the sync
/// compare instead of text.
///
/// Built from a render or from parsed `iptables-save` output alike. Only chains that exist
/// appear in `chains` (missing and empty are different states); rules in those chains that are
/// not `PortalRule`s are kept verbatim in `unrecognized`, so a foreign rule makes two states
/// differ instead of vanishing from the comparison.
public struct PortalState: Hashable, Sendable {
    /// Recognised rules per existing portal chain, in chain order.
    public var chains: [PortalChain: [PortalRule]]
    /// Rules inside portal chains that are not of the userspace vocabulary.
    public var unrecognized: [IPTablesRule]

    /// Extracts the portal chains of `ruleSet`.
    public init(_ ruleSet: IPTablesRuleSet) {
        var chains: [PortalChain: [PortalRule]] = [:]
        var unrecognized: [IPTablesRule] = []
        for chain in PortalChain.allCases {
            guard let found = ruleSet.chain(chain.rawValue, in: chain.table) else { continue }
            var rules: [PortalRule] = []
            for rule in found.rules {
                if let portal = PortalRule(rule) { rules.append(portal) } else { unrecognized.append(rule) }
            }
            chains[chain] = rules
        }
        self.chains = chains
        self.unrecognized = unrecognized
    }

    /// The recognised rules of one chain; empty when the chain is missing.
    public func rules(in chain: PortalChain) -> [PortalRule] { chains[chain] ?? [] }

    /// Every proxy port each service port (by rule comment) is sent to in the nat chains.
    ///
    /// A service port whose rules disagree maps to several ports; `previousProxyPorts` drops
    /// those as ambiguous.
    public var proxyPortsByComment: [String: Set<Int>] {
        var result: [String: Set<Int>] = [:]
        for chain in PortalChain.allCases where chain.table == "nat" {
            for rule in rules(in: chain) {
                guard let comment = rule.comment, let port = rule.proxyPort else { continue }
                result[comment, default: []].insert(port)
            }
        }
        return result
    }
}
