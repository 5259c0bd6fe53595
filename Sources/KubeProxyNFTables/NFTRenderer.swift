import KubeProxyCore

/// Renders a proxy snapshot into the desired content of one family's `kube-proxy` table
/// (spec §3.1–3.4), in named phases: the fixed skeleton (tables, base chains, dispatch sets and
/// maps), then per service port its chains and dispatch elements. Pure and deterministic:
/// the same snapshot and options always give the same ruleset.
///
/// Stale-object cleanup is not rendering: the sync planner (`NFTKernelState.plan`) compares
/// the ruleset with what the kernel holds.
public struct NFTRenderer: Sendable {
    /// Node facts and configuration.
    public var options: NFTRenderOptions

    /// `cluster-ips`: every ClusterIP, for the invalid-port reject.
    public static let clusterIPsSet = "cluster-ips"
    /// `nodeport-ips`: the node addresses that accept NodePorts.
    public static let nodePortIPsSet = "nodeport-ips"
    /// `service-ips`: ClusterIP, external IP and load-balancer IP dispatch.
    public static let serviceIPsMap = "service-ips"
    /// `service-nodeports`: NodePort dispatch.
    public static let serviceNodePortsMap = "service-nodeports"
    /// `no-endpoint-services`: REJECT/DROP for IPs of services without usable endpoints.
    public static let noEndpointServicesMap = "no-endpoint-services"
    /// `no-endpoint-nodeports`: REJECT/DROP for NodePorts without usable endpoints.
    public static let noEndpointNodePortsMap = "no-endpoint-nodeports"
    /// `firewall-ips`: load-balancer IPs subject to `loadBalancerSourceRanges`.
    public static let firewallIPsMap = "firewall-ips"
    /// The chain that rejects (the `goto reject-chain` verdict).
    public static let rejectChain = "reject-chain"
    /// The chain that sets the masquerade mark.
    public static let markMasqueradeChain = "mark-for-masquerade"

    /// The maps and sets whose elements the planner keeps in step with the services.
    public static let serviceElementSets = [
        clusterIPsSet, serviceIPsMap, serviceNodePortsMap, noEndpointServicesMap, noEndpointNodePortsMap, firewallIPsMap,
    ]

    /// Creates a renderer.
    public init(options: NFTRenderOptions) { self.options = options }

    /// The table family.
    public var family: NFTFamily { NFTFamily(options.family) }

    /// The desired table content for `snapshot`.
    public func render(_ snapshot: ProxySnapshot) -> NFTRuleset {
        var ruleset = skeleton()
        ruleset.servicePorts = snapshot.servicePorts.mapValues { port in
            render(port, endpoints: snapshot.endpoints(for: port.name))
        }
        return ruleset
    }

    // MARK: - Phase 1: skeleton

    /// The fixed part of the table: sets and maps, base chains, dispatch chains (newest
    /// upstream base-chain layout, spec §3.1).
    public func skeleton() -> NFTRuleset {
        let ip = family.payload
        let address = family.addressType
        let sets = [
            NFTSet(name: Self.clusterIPsSet, keyType: [address], comment: "Active ClusterIPs"),
            NFTSet(name: Self.nodePortIPsSet, keyType: [address], comment: "IPs that accept NodePort traffic"),
            NFTSet(
                name: Self.firewallIPsMap, keyType: [address, "inet_proto", "inet_service"], valueType: "verdict",
                comment: "destinations that are subject to LoadBalancerSourceRanges"),
            NFTSet(
                name: Self.noEndpointNodePortsMap, keyType: ["inet_proto", "inet_service"], valueType: "verdict",
                comment: "vmap to drop or reject packets to service nodeports with no endpoints"),
            NFTSet(
                name: Self.noEndpointServicesMap, keyType: [address, "inet_proto", "inet_service"], valueType: "verdict",
                comment: "vmap to drop or reject packets to services with no endpoints"),
            NFTSet(
                name: Self.serviceIPsMap, keyType: [address, "inet_proto", "inet_service"], valueType: "verdict",
                comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
            NFTSet(
                name: Self.serviceNodePortsMap, keyType: ["inet_proto", "inet_service"], valueType: "verdict",
                comment: "NodePort traffic"),
        ]
        let mark = options.masqueradeMark
        let nodePortMatch: String
        if options.nodePortIPs == nil {
            nodePortMatch = "fib daddr type local \(ip) daddr != \(family == .ip ? "127.0.0.0/8" : "::1")"
        } else {
            nodePortMatch = "\(ip) daddr @\(Self.nodePortIPsSet)"
        }
        var clusterIPsCheck = [
            rule("cluster-ips-check", "\(ip) daddr @\(Self.clusterIPsSet) reject", comment: "Reject traffic to invalid ports of ClusterIPs")
        ]
        if !options.serviceCIDRs.isEmpty {
            let cidrs = options.serviceCIDRs.map(\.description).joined(separator: " , ")
            clusterIPsCheck.append(
                rule("cluster-ips-check", "\(ip) daddr { \(cidrs) } drop", comment: "Drop traffic to unallocated ClusterIPs"))
        }
        func base(_ name: String, _ type: String, _ hook: String, _ priority: Int, _ rules: [String]) -> NFTChainContent {
            NFTChainContent(
                NFTChain(name: name, base: NFTBaseChain(type: type, hook: hook, priority: priority)),
                rules: rules.map { rule(name, $0) })
        }
        func regular(_ name: String, _ rules: [NFTRule], comment: String? = nil) -> NFTChainContent {
            NFTChainContent(NFTChain(name: name, comment: comment), rules: rules)
        }
        let dispatch = "\(ip) daddr . meta l4proto . th dport vmap"
        let chains = [
            regular("cluster-ips-check", clusterIPsCheck),
            regular("firewall-check", [rule("firewall-check", "\(dispatch) @\(Self.firewallIPsMap)")]),
            regular(Self.markMasqueradeChain, [rule(Self.markMasqueradeChain, "mark set mark or \(mark)")]),
            regular(
                "masquerading",
                [
                    rule("masquerading", "mark and \(mark) == 0 return"),
                    rule("masquerading", "mark set mark xor \(mark)"),
                    rule("masquerading", "masquerade fully-random"),
                ]),
            regular(
                "nodeport-endpoints-check",
                [rule("nodeport-endpoints-check", "\(nodePortMatch) meta l4proto . th dport vmap @\(Self.noEndpointNodePortsMap)")]),
            regular(
                Self.rejectChain, [rule(Self.rejectChain, "reject")],
                comment: "helper for @\(Self.noEndpointServicesMap) / @\(Self.noEndpointNodePortsMap)"),
            regular(
                "services",
                [
                    rule("services", "\(dispatch) @\(Self.serviceIPsMap)"),
                    rule("services", "\(nodePortMatch) meta l4proto . th dport vmap @\(Self.serviceNodePortsMap)"),
                ]),
            regular("service-endpoints-check", [rule("service-endpoints-check", "\(dispatch) @\(Self.noEndpointServicesMap)")]),
            base("filter-prerouting-pre-dnat", "filter", "prerouting", -110, ["ct state new jump firewall-check"]),
            base("filter-output-pre-dnat", "filter", "output", -110, ["ct state new jump firewall-check"]),
            base(
                "filter-forward", "filter", "forward", 0,
                ["ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
            base(
                "filter-input", "filter", "input", 0,
                ["ct state new jump nodeport-endpoints-check", "ct state new jump service-endpoints-check"]),
            base(
                "filter-output", "filter", "output", 0,
                ["ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
            base("nat-output", "nat", "output", -100, ["jump services"]),
            base("nat-postrouting", "nat", "postrouting", 100, ["jump masquerading"]),
            base("nat-prerouting", "nat", "prerouting", -100, ["jump services"]),
        ]
        let nodePortIPs = (options.nodePortIPs ?? []).map { NFTElement(set: Self.nodePortIPsSet, key: [$0.description]) }
        return NFTRuleset(
            family: family, tableComment: "rules for kube-proxy", sets: sets, chains: chains, nodePortIPElements: nodePortIPs,
            servicePorts: [:])
    }

    /// A rule for `chain`.
    func rule(_ chain: String, _ body: String, comment: String? = nil) -> NFTRule {
        NFTRule(chain: chain, body, comment: comment)
    }
}
