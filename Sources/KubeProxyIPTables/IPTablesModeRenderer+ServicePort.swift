import KubeProxyCore

extension IPTablesModeRenderer {
    /// One service port's rules (spec §2.3), from the port and all its endpoints.
    ///
    /// Which endpoints serve which traffic is decided by `EndpointSelection` (Core), never
    /// here. Guarantees of the result:
    /// - ClusterIP traffic goes to the internal policy chain when it has endpoints; otherwise
    ///   filter REJECTs it (no endpoints at all) or DROPs it (Local policy, none local).
    /// - External destinations (external IPs, LB IPs, NodePort) go through `KUBE-EXT`, whose
    ///   short-circuit rules for pod and node traffic exist even when no local endpoint does
    ///   (upstream's "Local traffic policy" semantics); the filter REJECT/DROP catches the rest.
    /// - Every chain jumped to is in `chains` and non-empty; every chain in `chains` is
    ///   jumped to (jump-consistency invariant).
    /// - With `largeClusterMode`, per-endpoint rules carry no comment (§2.8).
    public func servicePortRules(_ port: ServicePort, endpoints: [Endpoint], largeClusterMode: Bool) -> IPTablesServicePortRules {
        let plan = ServicePortPlan(port: port, endpoints: endpoints, topology: parameters.topology)
        var result = IPTablesServicePortRules(
            noLocalEndpointsInternal: plan.hasEndpoints && !plan.hasInternalEndpoints,
            noLocalEndpointsExternal: plan.hasEndpoints && !plan.hasExternalEndpoints)
        dispatchRules(plan, into: &result)
        result.chains = serviceChains(plan, largeClusterMode: largeClusterMode)
        return result
    }

    /// Phase 1: the captures in the top-level chains (§2.3 steps 1–5).
    func dispatchRules(_ plan: ServicePortPlan, into result: inout IPTablesServicePortRules) {
        let port = plan.port
        let name = port.name.description
        let proto = port.protocol.lowercased
        let match = ["-m", proto, "-p", proto]
        func destination(_ address: IPAddress) -> [String] {
            match + ["-d", address.description, "--dport", String(port.port)]
        }
        func nat(_ chain: String, _ arguments: [String]) { result.natRules.append(IPTablesRule(chain: chain, arguments: arguments)) }
        func filter(_ chain: String, _ arguments: [String]) { result.filterRules.append(IPTablesRule(chain: chain, arguments: arguments)) }

        let internalVerdict = plan.hasEndpoints ? ("DROP", "\(name) has no local endpoints") : ("REJECT", "\(name) has no endpoints")
        let externalVerdict = internalVerdict

        // 1. ClusterIP.
        if plan.hasInternalEndpoints {
            nat(IPTablesModeChain.services, comment("\(name) cluster IP") + destination(port.clusterIP) + ["-j", plan.internalChain])
        } else {
            filter(IPTablesModeChain.services, comment(internalVerdict.1) + destination(port.clusterIP) + ["-j", internalVerdict.0])
        }
        // 2. External IPs.
        for address in port.externalIPs {
            if plan.hasEndpoints {
                nat(IPTablesModeChain.services, comment("\(name) external IP") + destination(address) + ["-j", plan.names.external])
            }
            if !plan.hasExternalEndpoints {
                filter(IPTablesModeChain.externalServices, comment(externalVerdict.1) + destination(address) + ["-j", externalVerdict.0])
            }
        }
        // 3. Load-balancer IPs; with source ranges through KUBE-FW, whose misses filter drops.
        for address in port.loadBalancerIPs {
            if plan.hasEndpoints {
                nat(IPTablesModeChain.services, comment("\(name) loadbalancer IP") + destination(address) + ["-j", plan.loadBalancerChain])
            }
            if plan.usesFirewallChain {
                filter(
                    IPTablesModeChain.proxyFirewall,
                    comment("\(name) traffic not accepted by \(plan.names.firewall)") + destination(address) + ["-j", "DROP"])
            }
        }
        if !plan.hasExternalEndpoints {
            for address in port.loadBalancerIPs {
                filter(IPTablesModeChain.externalServices, comment(externalVerdict.1) + destination(address) + ["-j", externalVerdict.0])
            }
        }
        // 4. NodePort (never subject to loadBalancerSourceRanges, as upstream).
        if port.nodePort != 0 {
            let nodePort = ["--dport", String(port.nodePort)]
            if plan.hasEndpoints {
                if parameters.effectiveLocalhostNodePorts && parameters.nfacctAvailable {
                    nat(
                        IPTablesModeChain.nodePorts,
                        comment(name) + match + ["-d", "127.0.0.0/8"] + nodePort + [
                            "-m", "nfacct", "--nfacct-name", IPTablesModeNFAcct.localhostNodePortsAccepted, "-j", plan.names.external,
                        ])
                }
                nat(IPTablesModeChain.nodePorts, comment(name) + match + nodePort + ["-j", plan.names.external])
            }
            if !plan.hasExternalEndpoints {
                filter(
                    IPTablesModeChain.externalServices,
                    comment(externalVerdict.1) + ["-m", "addrtype", "--dst-type", "LOCAL"] + match + nodePort + ["-j", externalVerdict.0])
            }
        }
        // 5. Health check node port: accepted whether or not there are local endpoints, so
        // the load balancer can learn that there are none.
        if port.healthCheckNodePort != 0 {
            filter(
                IPTablesModeChain.nodePorts,
                comment("\(name) health check node port") + [
                    "-m", "tcp", "-p", "tcp", "--dport", String(port.healthCheckNodePort), "-j", "ACCEPT",
                ])
        }
    }

    /// Phase 2: the per-service chains (§2.3 steps 7–11, §2.4, §2.5), in upstream's order
    /// `KUBE-EXT`, `KUBE-FW`, `KUBE-SVC`, `KUBE-SVL`, `KUBE-SEP`….
    func serviceChains(_ plan: ServicePortPlan, largeClusterMode: Bool) -> [IPTablesChain] {
        let port = plan.port
        let name = port.name.description
        let proto = port.protocol.lowercased
        let names = plan.names
        var builder = ChainBuilder([])
        func add(_ chain: String, _ arguments: [String]) { builder.append([IPTablesRule(chain: chain, arguments: arguments)]) }
        var internalMasquerade: [String]?
        // 7. Masquerade ClusterIP traffic that does not come from a local pod (all of it with
        // --masquerade-all): it may leave the node, and the reply must come back here.
        if plan.hasInternalEndpoints {
            let capture =
                comment("\(name) cluster IP") + ["-m", proto, "-p", proto, "-d", port.clusterIP.description, "--dport", String(port.port)]
            if parameters.masqueradeAll {
                internalMasquerade = capture + ["-j", IPTablesModeChain.markMasquerade]
            } else if let notLocal = notLocalMatch {
                internalMasquerade = capture + notLocal + ["-j", IPTablesModeChain.markMasquerade]
            }
        }
        // 8. KUBE-EXT: entry for every external destination.
        if plan.usesExternalChain {
            if !port.externalPolicyLocal {
                add(
                    names.external,
                    comment("masquerade traffic for \(name) external destinations") + ["-j", IPTablesModeChain.markMasquerade])
            } else {
                // Pods and the node itself reach external destinations as if through the load
                // balancer: cluster-wide endpoints, so they work without a local endpoint.
                if let local = localMatch {
                    add(names.external, comment("pod traffic for \(name) external destinations") + local + ["-j", names.clusterPolicy])
                }
                // The node's own source address would be the LB IP itself: masquerade it.
                add(
                    names.external,
                    comment("masquerade LOCAL traffic for \(name) external destinations") + [
                        "-m", "addrtype", "--src-type", "LOCAL", "-j", IPTablesModeChain.markMasquerade,
                    ])
                add(
                    names.external,
                    comment("route LOCAL traffic for \(name) external destinations") + [
                        "-m", "addrtype", "--src-type", "LOCAL", "-j", names.clusterPolicy,
                    ])
            }
            // Everything else falls through to the policy chain, or on to the filter DROP.
            if plan.hasExternalEndpoints { add(names.external, ["-j", plan.externalPolicyChain]) }
        }
        // 9. KUBE-FW: accepted source ranges; the rest falls off the end and is dropped by
        // the KUBE-PROXY-FIREWALL rule (the packet was not DNATed).
        if plan.usesFirewallChain {
            let head = comment("\(name) loadbalancer IP")
            var allowFromNode = false
            for range in port.loadBalancerSourceRanges {
                add(names.firewall, head + ["-s", range.description, "-j", names.external])
                if parameters.nodeIPs.contains(where: range.contains) { allowFromNode = true }
            }
            // A node reaching a VIP-style LB IP that is also local sees its source become the
            // LB IP; let that through when the node itself is allowed.
            if allowFromNode {
                for address in port.loadBalancerIPs {
                    add(names.firewall, head + ["-s", address.description, "-j", names.external])
                }
            }
            add(names.firewall, comment("other traffic to \(name) will be dropped by KUBE-PROXY-FIREWALL"))
        }
        // 10. KUBE-SVC / KUBE-SVL: balance over the endpoints.
        if plan.usesClusterChain {
            if plan.internalChain == names.clusterPolicy, let masquerade = internalMasquerade { add(names.clusterPolicy, masquerade) }
            builder.append(
                endpointRules(plan, chain: names.clusterPolicy, endpoints: plan.clusterEndpoints, largeClusterMode: largeClusterMode))
        }
        if plan.usesLocalChain {
            if plan.internalChain == names.localPolicy, let masquerade = internalMasquerade { add(names.localPolicy, masquerade) }
            builder.append(
                endpointRules(plan, chain: names.localPolicy, endpoints: plan.localEndpoints, largeClusterMode: largeClusterMode))
        }
        // 11. KUBE-SEP: hairpin masquerade, then DNAT (recording affinity).
        let sepComment = largeClusterMode ? [] : comment(name)
        for endpoint in plan.reachableEndpoints {
            let chain = plan.endpointChain(endpoint)
            add(chain, sepComment + ["-s", endpoint.ip.description, "-j", IPTablesModeChain.markMasquerade])
            var dnat = sepComment
            if case .clientIP = port.sessionAffinity { dnat += ["-m", "recent", "--name", chain, "--set"] }
            dnat += ["-m", proto, "-p", proto, "-j", "DNAT", "--to-destination", endpoint.address.description]
            add(chain, dnat)
        }
        return builder.chains
    }

    /// Affinity checks, then one statistic rule per endpoint with probability 1/(n−i), the
    /// last without (§2.4, §2.5).
    func endpointRules(_ plan: ServicePortPlan, chain: String, endpoints: [Endpoint], largeClusterMode: Bool) -> [IPTablesRule] {
        let name = plan.port.name.description
        func endpointComment(_ endpoint: Endpoint) -> [String] {
            largeClusterMode ? [] : comment("\(name) -> \(endpoint.address)")
        }
        var rules: [IPTablesRule] = []
        if case .clientIP(let timeout) = plan.port.sessionAffinity {
            for endpoint in endpoints {
                let target = plan.endpointChain(endpoint)
                rules.append(
                    IPTablesRule(
                        chain: chain,
                        arguments: endpointComment(endpoint) + [
                            "-m", "recent", "--name", target, "--rcheck", "--seconds", String(timeout), "--reap", "-j", target,
                        ]))
            }
        }
        for (index, endpoint) in endpoints.enumerated() {
            var arguments = endpointComment(endpoint)
            if index < endpoints.count - 1 {
                arguments += ["-m", "statistic", "--mode", "random", "--probability", IPTablesProbability.of(endpoints.count - index)]
            }
            rules.append(IPTablesRule(chain: chain, arguments: arguments + ["-j", plan.endpointChain(endpoint)]))
        }
        return rules
    }

    /// Matches traffic from local pods (`IfLocal`), `nil` without a detector.
    var localMatch: [String]? {
        switch parameters.localDetector {
        case .none: return nil
        case .cidr(let cidr): return ["-s", cidr.description]
        case .bridgeInterface(let bridge): return ["-i", bridge]
        case .interfaceNamePrefix(let prefix): return ["-i", prefix + "+"]
        }
    }

    /// Matches traffic not from local pods (`IfNotLocal`), `nil` without a detector.
    var notLocalMatch: [String]? { localMatch.map { ["!"] + $0 } }
}

/// The decisions about one service port that its rules follow (upstream's local variables in
/// `syncProxyRules`, named once here so each rule family reads as a one-liner).
struct ServicePortPlan {
    let port: ServicePort
    let names: ServiceChainNames
    /// Cluster-policy endpoints (empty when unused).
    let clusterEndpoints: [Endpoint]
    /// Local-policy endpoints (empty when unused).
    let localEndpoints: [Endpoint]
    /// Every endpoint some chain jumps to: one `KUBE-SEP` chain each, sorted.
    let reachableEndpoints: [Endpoint]
    /// Any usable endpoint anywhere (else everything is REJECTed).
    let hasEndpoints: Bool
    let usesClusterChain: Bool
    let usesLocalChain: Bool
    /// The chain ClusterIP traffic goes to and whether it has endpoints.
    let internalChain: String
    let hasInternalEndpoints: Bool
    /// The chain `KUBE-EXT` ends in and whether it has endpoints.
    let externalPolicyChain: String
    let hasExternalEndpoints: Bool
    /// Whether `KUBE-EXT` exists (it carries the short-circuits even without external endpoints).
    let usesExternalChain: Bool
    /// Whether `KUBE-FW` exists (LB IPs with source ranges).
    let usesFirewallChain: Bool
    /// Where LB IP traffic goes: `KUBE-FW` or `KUBE-EXT`.
    let loadBalancerChain: String
    private let endpointChains: [EndpointAddress: String]

    init(port: ServicePort, endpoints: [Endpoint], topology: NodeTopology) {
        self.port = port
        names = ServiceChainNames(port.name)
        let categorized = EndpointSelection.categorize(endpoints, for: port, topology: topology)
        // Core computes cluster endpoints for every externally accessible port too (upstream's
        // rule): with externalTrafficPolicy Local, pod and node traffic to external
        // destinations is still short-circuited to them.
        clusterEndpoints = categorized.cluster ?? []
        localEndpoints = categorized.local ?? []
        hasEndpoints = categorized.hasAnyEndpoints
        usesClusterChain = !clusterEndpoints.isEmpty
        usesLocalChain = !localEndpoints.isEmpty
        reachableEndpoints = Set(clusterEndpoints).union(localEndpoints).sorted()
        var chains: [EndpointAddress: String] = [:]
        for endpoint in reachableEndpoints {
            chains[endpoint.address] = ServiceChainNames.endpointChain(port.name, endpoint: endpoint.address)
        }
        endpointChains = chains

        internalChain = port.internalPolicyLocal ? names.localPolicy : names.clusterPolicy
        hasInternalEndpoints = categorized.hasEndpoints(policyLocal: port.internalPolicyLocal)
        externalPolicyChain = port.externalPolicyLocal ? names.localPolicy : names.clusterPolicy
        hasExternalEndpoints = categorized.hasEndpoints(policyLocal: port.externalPolicyLocal)
        usesExternalChain = hasEndpoints && port.isExternallyAccessible
        usesFirewallChain = hasEndpoints && !port.loadBalancerIPs.isEmpty && !port.loadBalancerSourceRanges.isEmpty
        loadBalancerChain = usesFirewallChain ? names.firewall : names.external
    }

    /// The `KUBE-SEP` chain of a reachable endpoint.
    func endpointChain(_ endpoint: Endpoint) -> String {
        endpointChains[endpoint.address] ?? ServiceChainNames.endpointChain(port.name, endpoint: endpoint.address)
    }
}
