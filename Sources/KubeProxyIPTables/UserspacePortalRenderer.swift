import KubeProxyCore

/// Renders the desired content of the five portal chains for one IP family (docs/userspace-behaviour.md#portal-rules).
///
/// Pure and deterministic: the same inputs give the same rule set, byte for byte, whatever
/// order the ports arrive in (they are sorted by `ServicePortName`). Rendering happens in named
/// phases — `skeleton()` (five empty chains), `portalRules(for:)` (per service port) and, at
/// apply time, the parent jumps via `JumpReconciler` — and the result is one `IPTablesRuleSet`
/// that `restoreScript(desired:current:)` turns into a single `iptables-restore --noflush` input.
///
/// Targets (docs/userspace-behaviour.md#rule-targets): from containers, `REDIRECT --to-ports PP` when the proxy listens on an
/// unspecified address, else `DNAT` to `LIP:PP`; from the host always `DNAT`, to `HIP:PP` when
/// the listen address is unspecified, else to `LIP:PP`.
public struct UserspacePortalRenderer: Hashable, Sendable {
    /// `--bind-address` (`LIP`). An address of another family than `family` counts as
    /// unspecified: the proxy's sockets then listen on the wildcard of this family.
    public var listenIP: IPAddress
    /// The node's primary address of `family` (`HIP`, docs/userspace-behaviour.md#host-address); used only while `listenIP` is
    /// unspecified. Must be of `family`.
    public var hostIP: IPAddress
    /// The family of every address rendered; addresses of the other family are left out
    /// because a single one would make `iptables-restore` reject the whole batch.
    public var family: IPFamily

    /// Creates a renderer for one family.
    public init(listenIP: IPAddress, hostIP: IPAddress, family: IPFamily) {
        self.listenIP = listenIP
        self.hostIP = hostIP
        self.family = family
    }

    /// The listen address when it is a specific address of this family.
    var specificListenIP: IPAddress? {
        listenIP.isUnspecified || listenIP.family != family ? nil : listenIP
    }

    /// `TC`: where traffic from outside the host netns is sent.
    public func containerTarget(proxyPort: Int) -> PortalRule.Target {
        if let ip = specificListenIP { return .dnat(address: ip, port: proxyPort) }
        return .redirect(toPort: proxyPort)
    }

    /// `TH`: where traffic generated on the host is sent.
    public func hostTarget(proxyPort: Int) -> PortalRule.Target {
        .dnat(address: specificListenIP ?? hostIP, port: proxyPort)
    }

    /// The desired five chains with all rules for `ports`.
    ///
    /// Ports with a proxy port outside 1...65535 (no listener) get no rules.
    public func render(_ ports: [PortalServicePort]) -> IPTablesRuleSet {
        var ruleSet = skeleton()
        for port in ports.sorted(by: { $0.servicePort.name < $1.servicePort.name }) {
            for rule in portalRules(for: port) {
                guard let chain = PortalChain(rawValue: rule.chain) else { continue }
                ruleSet.append(rule.rule, in: chain.table)
            }
        }
        return ruleSet
    }

    /// Phase 1: the five chains, empty, nat first.
    public func skeleton() -> IPTablesRuleSet {
        var ruleSet = IPTablesRuleSet()
        for chain in PortalChain.allCases {
            ruleSet.setChain(IPTablesChain(name: chain.rawValue), in: chain.table)
        }
        return ruleSet
    }

    /// Phase 2: the rules of one service port, in upstream order — ClusterIP (R1, R2), each
    /// external IP (R3, R4, R5), each LB IP (R1, R2), then the NodePort (R8, R9, R10).
    public func portalRules(for port: PortalServicePort) -> [PortalRule] {
        guard (1...65535).contains(port.proxyPort) else { return [] }
        let sp = port.servicePort
        var rules: [PortalRule] = []
        if sp.clusterIP.family == family && !sp.clusterIP.isUnspecified {
            rules += clusterIPRules(port, destination: sp.clusterIP)
        }
        for ip in sp.externalIPs where ip.family == family {
            rules += externalIPRules(port, destination: ip)
        }
        for ip in sp.loadBalancerIPs where ip.family == family {
            rules += clusterIPRules(port, destination: ip)
        }
        if (1...65535).contains(sp.nodePort) {
            rules += nodePortRules(port)
        }
        // One comment string shared by the port's rules instead of one per rule (the book keeps
        // every rule of 10k Services).
        let comment = port.comment
        for index in rules.indices { rules[index].comment = comment }
        return rules
    }

    /// The common match (docs/userspace-behaviour.md#rule-match) for `chain`, matching `dport` and, if given, `destination`.
    func baseRule(
        _ port: PortalServicePort, chain: PortalChain, dport: Int, destination: IPAddress? = nil, target: PortalRule.Target
    ) -> PortalRule {
        PortalRule(
            chain: chain.rawValue, comment: port.comment, protocol: port.servicePort.protocol,
            destinationPort: dport, destination: destination, target: target)
    }

    /// R1 (container) and R2 (host) for a ClusterIP or LB IP (docs/userspace-behaviour.md#portal-rules).
    func clusterIPRules(_ port: PortalServicePort, destination: IPAddress) -> [PortalRule] {
        let (dport, tc, th) = (port.servicePort.port, containerTarget(proxyPort: port.proxyPort), hostTarget(proxyPort: port.proxyPort))
        return [
            baseRule(port, chain: .portalsContainer, dport: dport, destination: destination, target: tc),
            baseRule(port, chain: .portalsHost, dport: dport, destination: destination, target: th),
        ]
    }

    /// R3 (not from a bridge), R4 (local, container) and R5 (local, host) for an external IP.
    func externalIPRules(_ port: PortalServicePort, destination: IPAddress) -> [PortalRule] {
        let (dport, tc, th) = (port.servicePort.port, containerTarget(proxyPort: port.proxyPort), hostTarget(proxyPort: port.proxyPort))
        let container = baseRule(port, chain: .portalsContainer, dport: dport, destination: destination, target: tc)
        var fromNetwork = container
        fromNetwork.notFromBridge = true
        var fromPods = container
        fromPods.destinationIsLocal = true
        var fromHost = baseRule(port, chain: .portalsHost, dport: dport, destination: destination, target: th)
        fromHost.destinationIsLocal = true
        return [fromNetwork, fromPods, fromHost]
    }

    /// NodePort: R8, R9 on the node port, and R10 — the filter ACCEPT on the *proxy* port,
    /// because INPUT sees the packet after REDIRECT.
    func nodePortRules(_ port: PortalServicePort) -> [PortalRule] {
        let np = port.servicePort.nodePort
        var accept = baseRule(port, chain: .nodePortNonLocal, dport: port.proxyPort, target: .accept)
        accept.newConnectionsOnly = true
        return [
            baseRule(port, chain: .nodePortContainer, dport: np, target: containerTarget(proxyPort: port.proxyPort)),
            baseRule(port, chain: .nodePortHost, dport: np, target: hostTarget(proxyPort: port.proxyPort)),
            accept,
        ]
    }
}
