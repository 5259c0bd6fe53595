import KubeProxyCore

/// The iptables-mode chain names, upstream's exact spelling (spec §2.1–2.2).
///
/// Operators, monitoring and other components grep for these, so they are public contract.
public enum IPTablesModeChain {
    /// `KUBE-SERVICES` (filter and nat): entry point of every service VIP.
    public static let services = "KUBE-SERVICES"
    /// `KUBE-EXTERNAL-SERVICES` (filter): REJECT/DROP for external destinations.
    public static let externalServices = "KUBE-EXTERNAL-SERVICES"
    /// `KUBE-NODEPORTS` (filter: health-check ACCEPTs; nat: NodePort captures).
    public static let nodePorts = "KUBE-NODEPORTS"
    /// `KUBE-FORWARD` (filter): forwarding of marked and established traffic.
    public static let forward = "KUBE-FORWARD"
    /// `KUBE-PROXY-FIREWALL` (filter): drops for `loadBalancerSourceRanges`.
    public static let proxyFirewall = "KUBE-PROXY-FIREWALL"
    /// `KUBE-FIREWALL` (filter): kubelet's chain, holding the localnet guard.
    public static let kubeletFirewall = "KUBE-FIREWALL"
    /// `KUBE-POSTROUTING` (nat): masquerades marked packets.
    public static let postrouting = "KUBE-POSTROUTING"
    /// `KUBE-MARK-MASQ` (nat): sets the masquerade mark.
    public static let markMasquerade = "KUBE-MARK-MASQ"
    /// `KUBE-PROXY-CANARY` (mangle, nat, filter): an empty chain whose disappearance means
    /// someone flushed the tables, so everything must be rewritten.
    public static let canary = "KUBE-PROXY-CANARY"

    /// Prefixes of per-service chains; a nat chain with one of these is ours, and stale when
    /// no service uses it.
    public static let serviceChainPrefixes = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"]

    /// Whether `chain` is a per-service chain name (upstream `isServiceChainName`).
    public static func isServiceChain(_ chain: String) -> Bool {
        serviceChainPrefixes.contains { chain.hasPrefix($0) }
    }
}

/// The per-service chain names of one service port (spec §2.2).
///
/// All four share one hash: the first 16 characters of base32(sha256(`ns/name:port` +
/// lower-case protocol)), so every chain name stays within iptables' 28-character limit.
public struct ServiceChainNames: Hashable, Sendable {
    /// `KUBE-SVC-<hash>`: cluster-policy endpoints.
    public var clusterPolicy: String
    /// `KUBE-SVL-<hash>`: local-policy endpoints.
    public var localPolicy: String
    /// `KUBE-EXT-<hash>`: entry for external traffic.
    public var external: String
    /// `KUBE-FW-<hash>`: `loadBalancerSourceRanges` filter.
    public var firewall: String

    /// The names for `name`.
    public init(_ name: ServicePortName) {
        let hash = ChainHash.prefix(of: name.description + name.protocol.lowercased, length: 16)
        clusterPolicy = "KUBE-SVC-" + hash
        localPolicy = "KUBE-SVL-" + hash
        external = "KUBE-EXT-" + hash
        firewall = "KUBE-FW-" + hash
    }

    /// `KUBE-SEP-<hash>` of one endpoint: base32(sha256(`ns/name:port` + protocol + `ip:port`))
    /// (`[ip]:port` for IPv6), 16 characters.
    public static func endpointChain(_ name: ServicePortName, endpoint: EndpointAddress) -> String {
        "KUBE-SEP-" + ChainHash.prefix(of: name.description + name.protocol.lowercased + endpoint.description, length: 16)
    }
}
