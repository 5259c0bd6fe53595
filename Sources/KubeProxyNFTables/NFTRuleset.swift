import KubeProxyCore

/// A chain with the rules it should hold.
///
/// The rules are kept packed into one string per chain (bodies and comments, the chain name
/// once, frequent words as one byte each; see `NFTPackedRuleText`): at 10,000 Services a table
/// has 310,000 rules, and one `NFTRule` each (three strings, two heap allocations) cost ≈ 45 MB
/// where the packed text costs ≈ 17 MB. `rules` and `forEachRule` give them back as values.
public struct NFTChainContent: Hashable, Sendable {
    /// The declaration.
    public var chain: NFTChain
    /// The rules, packed when they can be told apart again (see `Storage`).
    private let storage: Storage
    /// How many rules the chain holds.
    public let ruleCount: Int
    /// A digest of the rules, to tell whether the kernel already holds them (computed once:
    /// every sync compares it for every chain).
    public let digest: UInt64
    /// Whether it is an endpoint chain, whose content follows from its name alone (a restart
    /// may keep an existing one).
    public var isEndpoint: Bool

    /// How the rules are held.
    private enum Storage: Hashable, Sendable {
        /// Each rule as its packed body, then `separator` and the comment when it has one, then
        /// a newline; every rule belongs to the chain itself.
        case packed(String)
        /// Rules with a control character in their text, or that name another chain (only
        /// hand-built test input): kept as they are, so the packing never changes a rule.
        case rules([NFTRule])
    }

    /// Separates a packed rule's body from its comment.
    private static let separator: UInt8 = 1
    private static let newline = UInt8(ascii: "\n")

    /// Creates a chain with content.
    public init(_ chain: NFTChain, rules: [NFTRule], isEndpoint: Bool = false) {
        self.chain = chain
        self.isEndpoint = isEndpoint
        self.ruleCount = rules.count
        self.digest = NFTDigest.of(rules)
        // Control characters are what the packing uses; nft syntax and Kubernetes names have none.
        func packable(_ text: String) -> Bool { !text.utf8.contains { $0 < 0x20 } }
        let canPack = rules.allSatisfy { rule in
            rule.chain == chain.name && packable(rule.body) && (rule.comment.map(packable) ?? true)
        }
        guard canPack else {
            self.storage = .rules(rules)
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rules.reduce(0) { $0 + $1.body.utf8.count + ($1.comment.map { $0.utf8.count + 1 } ?? 0) + 1 })
        for rule in rules {
            NFTPackedRuleText.pack(rule.body, into: &bytes)
            if let comment = rule.comment {
                bytes.append(Self.separator)
                bytes.append(contentsOf: comment.utf8)
            }
            bytes.append(Self.newline)
        }
        self.storage = .packed(String(decoding: bytes, as: UTF8.self))
    }

    /// The chain name.
    public var name: String { chain.name }

    /// The rules, in order (built on each call; `forEachRule` avoids the array).
    public var rules: [NFTRule] {
        var all: [NFTRule] = []
        all.reserveCapacity(ruleCount)
        forEachRule { all.append($0) }
        return all
    }

    /// Calls `body` with every rule's chain, body and comment in order, as views of the packed
    /// text where it can (writing a full sync's text then copies no rule).
    func forEachRuleText(_ body: (String, NFTPackedRuleText, Substring?) throws -> Void) rethrows {
        guard case .packed(let packed) = storage else {
            try forEachRule { try body($0.chain, NFTPackedRuleText(plain: $0.body), $0.comment.map { Substring($0) }) }
            return
        }
        let name = chain.name
        let bytes = packed.utf8
        var start = bytes.startIndex
        while start < bytes.endIndex, let end = bytes[start...].firstIndex(of: Self.newline) {
            if let split = bytes[start..<end].firstIndex(of: Self.separator) {
                try body(name, NFTPackedRuleText(bytes[start..<split]), Substring(bytes[bytes.index(after: split)..<end]))
            } else {
                try body(name, NFTPackedRuleText(bytes[start..<end]), nil)
            }
            start = bytes.index(after: end)
        }
    }

    /// Calls `body` with every rule in order.
    public func forEachRule(_ body: (NFTRule) throws -> Void) rethrows {
        switch storage {
        case .rules(let rules):
            for rule in rules { try body(rule) }
        case .packed:
            try forEachRuleText { chain, text, comment in
                try body(NFTRule(chain: chain, text.string, comment: comment.map { String($0) }))
            }
        }
    }
}

/// A rule body as packed in `NFTChainContent`: the words that make up most of the rule text at
/// scale (`ip saddr `, ` jump mark-for-masquerade`, `numgen random mod `, …) stored as one
/// control byte each (0x10 + their index in `words`), everything else as it is.
struct NFTPackedRuleText {
    /// The packed bytes.
    private let bytes: Substring.UTF8View
    /// Whether `bytes` are packed (else plain text, which may hold control bytes of its own).
    private let isPacked: Bool

    /// The words, tried in order at each position (the longer of two with a common start first).
    static let words: [[UInt8]] = [
        " jump mark-for-masquerade", "meta l4proto ", " dnat to ", "numgen random mod ", " 0 goto endpoint-",
        "goto endpoint-", "ip saddr ", "ip daddr ", "ip6 saddr ", "ip6 daddr ",
    ].map { Array($0.utf8) }
    /// The byte of `words[0]`.
    private static let firstCode: UInt8 = 0x10
    /// `words` as strings, to append.
    private static let wordStrings = words.map { String(decoding: $0, as: UTF8.self) }
    /// The indices of the words starting with each byte.
    private static let wordsByFirstByte: [[Int]] = {
        var table = [[Int]](repeating: [], count: 256)
        for (index, word) in words.enumerated() { table[Int(word[0])].append(index) }
        return table
    }()

    /// Packed bytes (a slice of a packed chain).
    init(_ bytes: Substring.UTF8View) {
        self.bytes = bytes
        self.isPacked = true
    }

    /// A body as it is (the unpacked storage).
    init(plain: String) {
        self.bytes = Substring(plain).utf8
        self.isPacked = false
    }

    /// Appends `text` packed to `out`. `text` must hold no control character.
    static func pack(_ text: String, into out: inout [UInt8]) {
        let source = Array(text.utf8)
        var index = 0
        scan: while index < source.count {
            for word in wordsByFirstByte[Int(source[index])] {
                let candidate = words[word]
                if index + candidate.count <= source.count && source[index..<index + candidate.count].elementsEqual(candidate) {
                    out.append(firstCode + UInt8(word))
                    index += candidate.count
                    continue scan
                }
            }
            out.append(source[index])
            index += 1
        }
    }

    /// Appends the unpacked text to `out`.
    func append(to out: inout String) {
        guard isPacked else {
            out += Substring(bytes)
            return
        }
        var run = bytes.startIndex
        var index = run
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte >= Self.firstCode && byte < 0x20 {
                out += Substring(bytes[run..<index])
                out += Self.wordStrings[Int(byte - Self.firstCode)]
                index = bytes.index(after: index)
                run = index
            } else {
                index = bytes.index(after: index)
            }
        }
        out += Substring(bytes[run..<bytes.endIndex])
    }

    /// The unpacked text.
    var string: String {
        var text = ""
        append(to: &text)
        return text
    }
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
