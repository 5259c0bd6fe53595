import KubeProxyCore

/// Renders upstream kube-proxy's iptables mode for one IP family (spec §2), as values.
///
/// Pure and deterministic: service ports are visited sorted by `ServicePortName`, endpoints in
/// the snapshot's (address) order, and every rule carries upstream's arguments in upstream's
/// order, so `iptables-save` on a node run by us reads like one run by upstream. Rendering
/// happens in named phases:
/// - `filterSkeleton` / `natSkeleton`: the top-level chains and their static rules (§2.6, §2.7);
/// - `servicePortRules(_:endpoints:largeClusterMode:)`: one service port's dispatch rules and
///   per-service chains (§2.3–2.5, in `IPTablesModeRenderer+ServicePort.swift`);
/// - `filterTail` / `natTail`: rules that must follow every service's (`KUBE-FORWARD`,
///   the `KUBE-NODEPORTS` jump that must be last in nat `KUBE-SERVICES`);
/// - `jumpRules`: the jumps from built-in chains (§2.1), reconciled against the kernel by
///   `IPTablesModeState` on full syncs.
/// `render(_:)` joins them into the whole desired state; `IPTablesModeState` joins them into
/// partial restores.
public struct IPTablesModeRenderer: Hashable, Sendable {
    /// The node, flags and kernel capabilities the rules depend on.
    public var parameters: IPTablesModeParameters

    /// Creates a renderer.
    public init(parameters: IPTablesModeParameters) {
        self.parameters = parameters
    }

    /// One jump from a built-in chain into a kube-proxy chain.
    public struct Jump: Hashable, Sendable {
        /// `filter` or `nat`.
        public var table: String
        /// The rule, in a built-in chain.
        public var rule: IPTablesRule
    }

    /// Whether `snapshot` has more endpoints (over all its service ports) than the large-cluster
    /// threshold, so per-endpoint comments are left out (§2.8).
    public func isLargeCluster(_ snapshot: ProxySnapshot) -> Bool {
        var total = 0
        for name in snapshot.servicePorts.keys { total += snapshot.endpoints[name]?.count ?? 0 }
        return total > parameters.largeClusterEndpointsThreshold
    }

    /// The whole desired state of our chains: `filter` then `nat`, top-level chains first, then
    /// per-service chains in service-port order. What a full sync writes (jumps aside).
    public func render(_ snapshot: ProxySnapshot) -> IPTablesRuleSet {
        let large = isLargeCluster(snapshot)
        let services = snapshot.sortedServicePorts.map {
            servicePortRules($0, endpoints: snapshot.endpoints(for: $0.name), largeClusterMode: large)
        }
        var nat = natSkeleton(services)
        for service in services { nat.chains += service.chains }
        return IPTablesRuleSet(tables: [filterSkeleton(services), nat])
    }

    /// The filter table's chains with every rule: services' rules, then the tail.
    public func filterSkeleton(_ services: [IPTablesServicePortRules]) -> IPTablesTable {
        var names = [
            IPTablesModeChain.services, IPTablesModeChain.externalServices, IPTablesModeChain.forward,
            IPTablesModeChain.nodePorts, IPTablesModeChain.proxyFirewall,
        ]
        if parameters.effectiveLocalhostNodePorts { names.append(IPTablesModeChain.kubeletFirewall) }
        var builder = ChainBuilder(names)
        for service in services { builder.append(service.filterRules) }
        builder.append(filterTail())
        return IPTablesTable(name: "filter", chains: builder.chains)
    }

    /// The nat table's top-level chains with every rule: static rules, services' dispatch
    /// rules, then the tail. Per-service chains are not included.
    public func natSkeleton(_ services: [IPTablesServicePortRules]) -> IPTablesTable {
        var builder = ChainBuilder([
            IPTablesModeChain.services, IPTablesModeChain.nodePorts, IPTablesModeChain.postrouting,
            IPTablesModeChain.markMasquerade,
        ])
        builder.append(natStatic())
        for service in services { builder.append(service.natRules) }
        builder.append(natTail())
        return IPTablesTable(name: "nat", chains: builder.chains)
    }

    /// `KUBE-POSTROUTING` and `KUBE-MARK-MASQ` (§2.6).
    func natStatic() -> [IPTablesRule] {
        let mark = parameters.masqueradeMark
        var masquerade = comment("kubernetes service traffic requiring SNAT") + ["-j", "MASQUERADE"]
        if parameters.randomFully { masquerade.append("--random-fully") }
        return [
            IPTablesRule(
                chain: IPTablesModeChain.postrouting,
                arguments: ["-m", "mark", "!", "--mark", parameters.masqueradeMarkMask, "-j", "RETURN"]),
            // Cleared so a packet that traverses the stack again is not masqueraded twice.
            IPTablesRule(chain: IPTablesModeChain.postrouting, arguments: ["-j", "MARK", "--xor-mark", mark]),
            IPTablesRule(chain: IPTablesModeChain.postrouting, arguments: masquerade),
            IPTablesRule(chain: IPTablesModeChain.markMasquerade, arguments: ["-j", "MARK", "--or-mark", mark]),
        ]
    }

    /// The last rules of nat `KUBE-SERVICES`: NodePort traffic goes to `KUBE-NODEPORTS` only
    /// after every ClusterIP, external and LB IP rule had its chance (§2.7).
    func natTail() -> [IPTablesRule] {
        let note = comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
        if parameters.nodePortAddresses.matchesAll {
            var destination = ["-m", "addrtype", "--dst-type", "LOCAL"]
            // IPv6 NodePorts never work on loopback; IPv4 ones only with route_localnet.
            if parameters.family == .ipv6 {
                destination += ["!", "-d", "::1/128"]
            } else if !parameters.effectiveLocalhostNodePorts {
                destination += ["!", "-d", "127.0.0.0/8"]
            }
            return [IPTablesRule(chain: IPTablesModeChain.services, arguments: note + destination + ["-j", IPTablesModeChain.nodePorts])]
        }
        return parameters.nodePortDestinations.map { address in
            IPTablesRule(
                chain: IPTablesModeChain.services, arguments: note + ["-d", address.description, "-j", IPTablesModeChain.nodePorts])
        }
    }

    /// `KUBE-FORWARD` and the `KUBE-FIREWALL` localnet guard (§2.6, §2.7).
    func filterTail() -> [IPTablesRule] {
        var rules: [IPTablesRule] = []
        if !parameters.conntrackTCPBeLiberal {
            // Without be_liberal, an out-of-window packet would reach the pod un-NATed and be
            // answered with a reset (kubernetes#74839).
            var drop = ["-m", "conntrack", "--ctstate", "INVALID"]
            if parameters.nfacctAvailable { drop += ["-m", "nfacct", "--nfacct-name", IPTablesModeNFAcct.ctStateInvalidDropped] }
            rules.append(IPTablesRule(chain: IPTablesModeChain.forward, arguments: drop + ["-j", "DROP"]))
        }
        rules.append(
            IPTablesRule(
                chain: IPTablesModeChain.forward,
                arguments: comment("kubernetes forwarding rules") + ["-m", "mark", "--mark", parameters.masqueradeMarkMask, "-j", "ACCEPT"])
        )
        rules.append(
            IPTablesRule(
                chain: IPTablesModeChain.forward,
                arguments: comment("kubernetes forwarding conntrack rule") + [
                    "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT",
                ]))
        if parameters.effectiveLocalhostNodePorts {
            // route_localnet lets 127.0.0.0/8 destinations be routed; without this guard a
            // spoofed packet from outside could reach localhost-bound services (kubernetes#90259).
            rules.append(
                IPTablesRule(
                    chain: IPTablesModeChain.kubeletFirewall,
                    arguments: comment("block incoming localnet connections") + [
                        "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
                        "RELATED,ESTABLISHED,DNAT", "-j", "DROP",
                    ]))
        }
        return rules
    }

    /// The jumps from built-in chains (§2.1), in the order upstream ensures them; each is
    /// prepended when missing, so on a fresh node they end up in reverse order.
    public func jumpRules() -> [Jump] {
        let new = ["-m", "conntrack", "--ctstate", "NEW"]
        func jump(_ table: String, _ from: String, _ to: String, _ extra: [String], _ text: String?) -> Jump {
            Jump(table: table, rule: IPTablesRule(chain: from, arguments: extra + (text.map(comment) ?? []) + ["-j", to]))
        }
        var jumps = [
            jump("filter", "INPUT", IPTablesModeChain.externalServices, new, "kubernetes externally-visible service portals"),
            jump("filter", "FORWARD", IPTablesModeChain.externalServices, new, "kubernetes externally-visible service portals"),
            jump("filter", "INPUT", IPTablesModeChain.nodePorts, [], "kubernetes health check service ports"),
            jump("filter", "FORWARD", IPTablesModeChain.services, new, "kubernetes service portals"),
            jump("filter", "OUTPUT", IPTablesModeChain.services, new, "kubernetes service portals"),
            jump("filter", "FORWARD", IPTablesModeChain.forward, [], "kubernetes forwarding rules"),
            jump("filter", "INPUT", IPTablesModeChain.proxyFirewall, new, "kubernetes load balancer firewall"),
            jump("filter", "OUTPUT", IPTablesModeChain.proxyFirewall, new, "kubernetes load balancer firewall"),
            jump("filter", "FORWARD", IPTablesModeChain.proxyFirewall, new, "kubernetes load balancer firewall"),
            jump("nat", "OUTPUT", IPTablesModeChain.services, [], "kubernetes service portals"),
            jump("nat", "PREROUTING", IPTablesModeChain.services, [], "kubernetes service portals"),
            jump("nat", "POSTROUTING", IPTablesModeChain.postrouting, [], "kubernetes postrouting rules"),
        ]
        if parameters.effectiveLocalhostNodePorts {
            // kubelet's jumps, without a comment, so the localnet guard is in force even
            // where kubelet no longer installs it.
            jumps.append(jump("filter", "INPUT", IPTablesModeChain.kubeletFirewall, [], nil))
            jumps.append(jump("filter", "OUTPUT", IPTablesModeChain.kubeletFirewall, [], nil))
        }
        return jumps
    }

    /// `-m comment --comment TEXT`.
    func comment(_ text: String) -> [String] { ["-m", "comment", "--comment", text] }
}

/// Chains in a fixed order, filled by appending rules to whichever chain they name.
struct ChainBuilder {
    private(set) var chains: [IPTablesChain]
    private var index: [String: Int] = [:]

    init(_ names: [String]) {
        chains = names.map { IPTablesChain(name: $0) }
        for (position, name) in names.enumerated() { index[name] = position }
    }

    /// Appends each rule to its chain, adding the chain at the end when unknown.
    mutating func append(_ rules: [IPTablesRule]) {
        for rule in rules {
            if let position = index[rule.chain] {
                chains[position].rules.append(rule)
            } else {
                index[rule.chain] = chains.count
                chains.append(IPTablesChain(name: rule.chain, rules: [rule]))
            }
        }
    }
}
