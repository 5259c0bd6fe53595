extension ServicePort {
    /// Whether traffic can reach the port from outside the cluster network: it has a node port,
    /// external IPs or load-balancer IPs. Only then does `externalTrafficPolicy` matter.
    public var isExternallyAccessible: Bool {
        nodePort != 0 || !externalIPs.isEmpty || !loadBalancerIPs.isEmpty
    }

    /// Whether external traffic is restricted to node-local endpoints (upstream
    /// `ExternalPolicyLocal()`).
    public var externalPolicyLocal: Bool {
        isExternallyAccessible && externalTrafficPolicy == .local
    }

    /// Whether cluster-IP traffic is restricted to node-local endpoints.
    public var internalPolicyLocal: Bool {
        internalTrafficPolicy == .local
    }

    /// Whether some traffic class uses the cluster-wide endpoint set: ClusterIP traffic under
    /// Cluster policy, or any external traffic — even with `externalTrafficPolicy: Local`, pod
    /// and node traffic to an external address is short-circuited to the cluster-wide set
    /// (upstream `UsesClusterEndpoints`).
    public var usesClusterEndpoints: Bool {
        !internalPolicyLocal || isExternallyAccessible
    }

    /// Whether some traffic class uses the node-local endpoint set.
    public var usesLocalEndpoints: Bool {
        internalPolicyLocal || externalPolicyLocal
    }
}
