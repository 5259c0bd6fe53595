import KubeProxyCore
import KubeProxyIPTables

/// The iptables rules docs/userspace-behaviour.md#portal-rules says the userspace proxy must leave on the lab's node, written out
/// by hand for this topology (not produced by the renderer under test), and the comparison
/// against a parsed `iptables-save`.
///
/// The proxy listens on 0.0.0.0 (no `--bind-address`), so container-side rules REDIRECT to the
/// proxy port and host-side rules DNAT to the node's primary address 10.100.0.10 (docs/userspace-behaviour.md#rule-targets).
enum UserspaceExpectedRules {
    static let chains = [
        ("nat", "KUBE-PORTALS-CONTAINER"), ("nat", "KUBE-PORTALS-HOST"), ("nat", "KUBE-NODEPORT-CONTAINER"),
        ("nat", "KUBE-NODEPORT-HOST"), ("filter", "KUBE-NODEPORT-NON-LOCAL"),
    ]

    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    static let hostIP = ip(UserspaceLab.nodeIP)

    /// Per chain, the rules (R1–R10) for proxy ports `web`, `dns`, `sticky`.
    static func serviceRules(web: Int, dns: Int, sticky: Int) -> [String: [PortalRule]] {
        let webName = UserspaceLab.webPort
        func container(
            _ name: String, _ proto: TransportProtocol, _ port: Int, _ dst: String?, pp: Int,
            notFromBridge: Bool = false, local: Bool = false
        ) -> PortalRule {
            PortalRule(
                chain: "KUBE-PORTALS-CONTAINER", comment: name, protocol: proto, destinationPort: port,
                destination: dst.map(ip), notFromBridge: notFromBridge, destinationIsLocal: local,
                target: .redirect(toPort: pp))
        }
        func host(_ name: String, _ proto: TransportProtocol, _ port: Int, _ dst: String, pp: Int, local: Bool = false)
            -> PortalRule
        {
            PortalRule(
                chain: "KUBE-PORTALS-HOST", comment: name, protocol: proto, destinationPort: port,
                destination: ip(dst), destinationIsLocal: local, target: .dnat(address: hostIP, port: pp))
        }
        return [
            "KUBE-PORTALS-CONTAINER": [
                // R1 ClusterIPs
                container(webName, .tcp, 80, "10.96.0.10", pp: web),
                container(UserspaceLab.dnsPort, .udp, 53, "10.96.0.53", pp: dns),
                container(UserspaceLab.stickyPort, .tcp, 80, "10.96.0.11", pp: sticky),
                // R3 + R4 per external IP
                container(webName, .tcp, 80, UserspaceLab.nodeIP, pp: web, notFromBridge: true),
                container(webName, .tcp, 80, UserspaceLab.nodeIP, pp: web, local: true),
                container(webName, .tcp, 80, "192.0.2.77", pp: web, notFromBridge: true),
                container(webName, .tcp, 80, "192.0.2.77", pp: web, local: true),
                // R1 for the LB ingress IP
                container(webName, .tcp, 80, "192.0.2.50", pp: web),
            ],
            "KUBE-PORTALS-HOST": [
                host(webName, .tcp, 80, "10.96.0.10", pp: web),
                host(UserspaceLab.dnsPort, .udp, 53, "10.96.0.53", pp: dns),
                host(UserspaceLab.stickyPort, .tcp, 80, "10.96.0.11", pp: sticky),
                host(webName, .tcp, 80, UserspaceLab.nodeIP, pp: web, local: true),  // R5
                host(webName, .tcp, 80, "192.0.2.77", pp: web, local: true),  // R5
                host(webName, .tcp, 80, "192.0.2.50", pp: web),  // R2 for the LB IP
            ],
            "KUBE-NODEPORT-CONTAINER": [  // R8
                PortalRule(
                    chain: "KUBE-NODEPORT-CONTAINER", comment: webName, protocol: .tcp, destinationPort: 30080,
                    target: .redirect(toPort: web))
            ],
            "KUBE-NODEPORT-HOST": [  // R9
                PortalRule(
                    chain: "KUBE-NODEPORT-HOST", comment: webName, protocol: .tcp, destinationPort: 30080,
                    target: .dnat(address: hostIP, port: web))
            ],
            "KUBE-NODEPORT-NON-LOCAL": [  // R10: the proxy port, after REDIRECT
                PortalRule(
                    chain: "KUBE-NODEPORT-NON-LOCAL", comment: webName, protocol: .tcp, destinationPort: web,
                    newConnectionsOnly: true, target: .accept)
            ],
        ]
    }

    /// A parent jump (docs/userspace-behaviour.md#parent-jumps) and where it must sit in its built-in chain.
    struct Jump {
        let table: String
        let rule: PortalRule
        let mustBeFirst: Bool
    }

    static let portalComment = "handle ClusterIPs; NOTE: this must be before the NodePort rules"
    static let nodePortComment = "handle service NodePorts; NOTE: this must be the last rule in the chain"

    /// J1…J5.
    static let jumps = [
        Jump(
            table: "nat", rule: PortalRule(chain: "PREROUTING", comment: portalComment, target: .jump("KUBE-PORTALS-CONTAINER")),
            mustBeFirst: true),
        Jump(
            table: "nat", rule: PortalRule(chain: "OUTPUT", comment: portalComment, target: .jump("KUBE-PORTALS-HOST")), mustBeFirst: true),
        Jump(
            table: "nat",
            rule: PortalRule(
                chain: "PREROUTING", comment: nodePortComment, destinationIsLocal: true, target: .jump("KUBE-NODEPORT-CONTAINER")),
            mustBeFirst: false),
        Jump(
            table: "nat",
            rule: PortalRule(chain: "OUTPUT", comment: nodePortComment, destinationIsLocal: true, target: .jump("KUBE-NODEPORT-HOST")),
            mustBeFirst: false),
        Jump(
            table: "filter",
            rule: PortalRule(
                chain: "INPUT", comment: "Ensure that non-local NodePort traffic can flow", target: .jump("KUBE-NODEPORT-NON-LOCAL")),
            mustBeFirst: true),
    ]

    /// Every way `saved` differs from the expectation; empty when it matches exactly: each
    /// chain holds exactly the expected rules once each (order-insensitive), and each parent
    /// jump occurs once, first or last in its chain as required.
    static func differences(_ saved: IPTablesRuleSet, web: Int, dns: Int, sticky: Int) -> [String] {
        var problems: [String] = []
        let expected = serviceRules(web: web, dns: dns, sticky: sticky)
        for (table, chain) in chains {
            guard saved.chain(chain, in: table) != nil else {
                problems.append("\(table) \(chain) does not exist")
                continue
            }
            let raw = saved.rules(in: chain, table: table)
            let parsed = raw.compactMap { PortalRule($0) }
            for rule in raw where PortalRule(rule) == nil { problems.append("unrecognised rule: \(rule)") }
            let want = Set(expected[chain] ?? [])
            let have = Set(parsed)
            for rule in want.subtracting(have) { problems.append("missing: \(rule)") }
            for rule in have.subtracting(want) { problems.append("unexpected: \(rule)") }
            for rule in have where parsed.filter({ $0 == rule }).count > 1 {
                problems.append("duplicated \(parsed.filter { $0 == rule }.count)×: \(rule)")
            }
        }
        for jump in jumps {
            let rules = saved.rules(in: jump.rule.chain, table: jump.table)
            let positions = rules.indices.filter { PortalRule(rules[$0]) == jump.rule }
            guard positions.count == 1, let position = positions.first else {
                problems.append("jump \(jump.rule) found \(positions.count)× in \(jump.table) \(jump.rule.chain)")
                continue
            }
            let wanted = jump.mustBeFirst ? 0 : rules.count - 1
            if position != wanted {
                problems.append(
                    "jump \(jump.rule) is rule \(position + 1) of \(rules.count) in \(jump.rule.chain), must be \(jump.mustBeFirst ? "first" : "last")"
                )
            }
        }
        return problems
    }

    /// Everything that still names a `KUBE-` chain: chain declarations and rules (jumps).
    static func leftovers(_ saved: IPTablesRuleSet) -> [String] {
        saved.tables.flatMap { table in
            table.chains.flatMap { chain -> [String] in
                let declared = chain.name.hasPrefix("KUBE-") ? ["\(table.name) chain \(chain.name)"] : []
                let jumps = chain.rules.filter { $0.arguments.contains { $0.hasPrefix("KUBE-") } }.map { "\(table.name) \($0)" }
                return declared + jumps
            }
        }
    }
}
