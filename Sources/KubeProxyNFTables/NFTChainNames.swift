import KubeProxyCore

/// Upstream's nftables names for per-service objects (spec §3.3): chain and set names are part
/// of the compatibility contract (operators grep for them; a restart adopts existing ones).
///
/// Base name `HASH8-namespace/name/protocol/port`, endpoint base
/// `HASH8-namespace/name/protocol/port__IP/port` (IPv6 colons become dots), where HASH8 is
/// the first 8 characters of base32(sha256(the name without the hash)). A base longer than 240
/// characters (room for the longest prefix in nft's 256) is cut to 237 plus `...`.
public enum NFTChainNames {
    /// Cluster-policy endpoints of a service port.
    public static let servicePrefix = "service-"
    /// Local-policy endpoints of a service port.
    public static let localPrefix = "local-"
    /// Entry for external (NodePort, external IP, load-balancer IP) traffic.
    public static let externalPrefix = "external-"
    /// `loadBalancerSourceRanges` filter.
    public static let firewallPrefix = "firewall-"
    /// One endpoint's DNAT chain.
    public static let endpointPrefix = "endpoint-"
    /// One endpoint's ClientIP affinity set.
    public static let affinityPrefix = "affinity-"

    /// The longest base name before truncation.
    public static let baseLengthLimit = 240

    /// `HASH8-ns/svc/proto/port`.
    public static func base(_ name: ServicePortName) -> String {
        hashAndTruncate(servicePath(name))
    }

    /// `HASH8-ns/svc/proto/port__IP/port`.
    public static func endpointBase(_ name: ServicePortName, _ endpoint: EndpointAddress) -> String {
        let ip = endpoint.ip.description.replacingColonsWithDots()
        return hashAndTruncate(servicePath(name) + "__\(ip)/\(endpoint.port)")
    }

    /// Whether `chain` is a per-service or per-endpoint chain (only those contain `/`); the
    /// stale-chain sweep relies on it.
    public static func isServiceChain(_ chain: String) -> Bool { chain.contains("/") }

    /// Whether `set` is a per-endpoint affinity set.
    public static func isAffinitySet(_ set: String) -> Bool { set.hasPrefix(affinityPrefix) }

    /// `ns/svc/proto/port`: the hashed text of a service port's chains.
    static func servicePath(_ name: ServicePortName) -> String {
        "\(name.service.namespace)/\(name.service.name)/\(name.protocol.lowercased)/\(name.port)"
    }

    /// `HASH8-name`, cut to `baseLengthLimit` with `...` (the hash keeps cut names unique).
    static func hashAndTruncate(_ name: String) -> String {
        let hashed = ChainHash.prefix(of: name, length: 8) + "-" + name
        guard hashed.utf8.count > baseLengthLimit else { return hashed }
        return String(hashed.prefix(baseLengthLimit - 3)) + "..."
    }
}

extension String {
    /// nft chain names cannot hold `:`, so IPv6 addresses are written with dots.
    fileprivate func replacingColonsWithDots() -> String {
        String(map { $0 == ":" ? "." : $0 })
    }
}
