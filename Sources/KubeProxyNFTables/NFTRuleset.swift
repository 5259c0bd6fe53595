import KubeProxyCore

/// A chain with the rules it should hold.
public struct NFTChainContent: Hashable, Sendable {
    /// The declaration.
    public var chain: NFTChain
    /// The rules, in order.
    public let rules: [NFTRule]
    /// Whether it is an endpoint chain, whose content follows from its name alone (a restart
    /// may keep an existing one).
    public var isEndpoint: Bool

    /// A digest of the rules, to tell whether the kernel already holds them (computed once:
    /// every sync compares it for every chain).
    public let digest: UInt64

    /// Creates a chain with content.
    public init(_ chain: NFTChain, rules: [NFTRule], isEndpoint: Bool = false) {
        self.chain = chain
        self.rules = rules
        self.isEndpoint = isEndpoint
        self.digest = NFTDigest.of(rules)
    }

    /// The chain name.
    public var name: String { chain.name }
}

/// Everything one service port puts into the table.
public struct NFTServicePortObjects: Hashable, Sendable {
    /// The service port.
    public var name: ServicePortName
    /// Its chains, in the order they are written: service-, local-, external-, firewall-,
    /// then endpoint chains.
    public var chains: [NFTChainContent]
    /// ClientIP affinity sets, one per reachable endpoint.
    public var affinitySets: [NFTSet]
    /// Its entries in the dispatch sets and maps.
    public var elements: [NFTElement]
    /// ITP Local with endpoints elsewhere but none here (upstream's no-local-endpoints gauge).
    public var noLocalEndpointsInternal: Bool
    /// ETP Local with endpoints elsewhere but none here.
    public var noLocalEndpointsExternal: Bool
}

/// The whole desired content of one family's table: the renderer's output, compared with
/// the kernel's content by the sync planner.
public struct NFTRuleset: Hashable, Sendable {
    /// The table family.
    public var family: NFTFamily
    /// The table comment.
    public var tableComment: String
    /// Fixed sets and maps (dispatch), in declaration order.
    public var sets: [NFTSet]
    /// Fixed chains (base chains and dispatch helpers) with their rules.
    public var chains: [NFTChainContent]
    /// Elements of `nodeport-ips` (empty when every local address accepts NodePorts).
    public var nodePortIPElements: [NFTElement]
    /// Per service port objects by name: a partial sync looks up only the ports that changed.
    public var servicePorts: [ServicePortName: NFTServicePortObjects]

    /// The service ports in name order, for full syncs (deterministic output).
    public var sortedServicePorts: [NFTServicePortObjects] {
        servicePorts.keys.sorted().compactMap { servicePorts[$0] }
    }

    /// Services with ITP Local, endpoints elsewhere and none here.
    public var noLocalEndpointsInternal: Int { servicePorts.values.count(where: \.noLocalEndpointsInternal) }
    /// Services with ETP Local, endpoints elsewhere and none here.
    public var noLocalEndpointsExternal: Int { servicePorts.values.count(where: \.noLocalEndpointsExternal) }
}

/// FNV-1a over rule text: cheap, stable within and across processes, and only ever compared
/// with digests we computed ourselves.
public enum NFTDigest {
    /// The digest of no rules.
    public static let empty: UInt64 = 0xcbf2_9ce4_8422_2325

    /// The digest of `rules` in order.
    public static func of(_ rules: [NFTRule]) -> UInt64 {
        rules.reduce(empty) { adding($1, to: $0) }
    }

    /// `digest` extended by one more rule.
    public static func adding(_ rule: NFTRule, to digest: UInt64) -> UInt64 {
        var hash = digest
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        mix(rule.body)
        mix(rule.comment ?? "")
        return hash
    }
}
