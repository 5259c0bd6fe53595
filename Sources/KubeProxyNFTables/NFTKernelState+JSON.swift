import Foundation

/// Why `nft -j list table` output could not be read.
public struct NFTListingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// A short excerpt of the offending JSON.
    public var excerpt: String

    /// Creates an error.
    public init(_ message: String, excerpt: String = "") {
        self.message = message
        self.excerpt = String(excerpt.prefix(200))
    }

    public var description: String { excerpt.isEmpty ? message : "\(message): \(excerpt)" }
}

extension NFTKernelState {
    /// The state described by `nft -j list table FAMILY TABLE` output (nft 1.0.x JSON schema 1).
    ///
    /// Only what syncing needs is read: chains (with hooks) and how many rules each has, sets
    /// and maps with their elements (concatenations joined by ` . `, verdicts as `goto X` /
    /// `jump X` / `drop` / `accept`). Rule digests are unknown (`nil`). Elements of dynamic
    /// affinity sets are the kernel's business and are not read.
    public init(parsingJSON json: String, family: NFTFamily, table: String = NFTTransaction.defaultTable) throws(NFTListingError) {
        self.init(family: family, table: table)
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } catch {
            throw NFTListingError("not JSON (\(error.localizedDescription))", excerpt: json)
        }
        guard let objects = (root as? [String: Any])?["nftables"] as? [[String: Any]] else {
            throw NFTListingError("no \"nftables\" array", excerpt: json)
        }
        for object in objects {
            if let tableObject = object["table"] as? [String: Any] {
                if tableObject["name"] as? String == table, tableObject["family"] as? String == family.rawValue { tableExists = true }
            } else if let chain = object["chain"] as? [String: Any], let name = chain["name"] as? String {
                var base: NFTBaseChain?
                if let type = chain["type"] as? String, let hook = chain["hook"] as? String, let priority = chain["prio"] as? Int {
                    base = NFTBaseChain(type: type, hook: hook, priority: priority)
                }
                chains[name, default: Chain(base: base, ruleCount: 0, digest: nil)].base = base
            } else if let rule = object["rule"] as? [String: Any], let name = rule["chain"] as? String {
                chains[name, default: Chain(ruleCount: 0, digest: nil)].ruleCount += 1
                totalRules += 1
                chains[name]?.digest = nil
            } else if let set = (object["set"] ?? object["map"]) as? [String: Any], let name = set["name"] as? String {
                let kind: NFTSetKind = object["map"] != nil ? .map : .set
                var container = Container(kind: kind)
                if !NFTChainNames.isAffinitySet(name) {
                    for element in set["elem"] as? [Any] ?? [] {
                        let (key, value) = try Self.element(element, kind: kind)
                        container.elements[key] = value
                    }
                }
                sets[name] = container
            }
        }
    }

    /// `(key text, value text)` of one listed element.
    static func element(_ element: Any, kind: NFTSetKind) throws(NFTListingError) -> (String, String) {
        if kind == .map {
            guard let pair = element as? [Any], pair.count == 2 else {
                throw NFTListingError("map element is not a [key, value] pair", excerpt: "\(element)")
            }
            return (try value(pair[0]), try verdict(pair[1]))
        }
        return (try value(element), "")
    }

    /// The text of a key: a string, a number, a concatenation, or `{"elem": {"val": …}}`.
    static func value(_ value: Any) throws(NFTListingError) -> String {
        if let text = value as? String { return text }
        if let number = value as? Int { return String(number) }
        if let object = value as? [String: Any] {
            if let elem = object["elem"] as? [String: Any], let inner = elem["val"] { return try self.value(inner) }
            if let parts = object["concat"] as? [Any] {
                var texts: [String] = []
                for part in parts { texts.append(try self.value(part)) }
                return texts.joined(separator: " . ")
            }
            if let prefix = object["prefix"] as? [String: Any], let address = prefix["addr"] as? String, let length = prefix["len"] as? Int
            {
                return "\(address)/\(length)"
            }
        }
        throw NFTListingError("unsupported element value", excerpt: "\(value)")
    }

    /// `goto X`, `jump X`, `drop`, `accept`, `return`.
    static func verdict(_ value: Any) throws(NFTListingError) -> String {
        guard let object = value as? [String: Any], let (verb, argument) = object.first else {
            throw NFTListingError("unsupported verdict", excerpt: "\(value)")
        }
        if let target = (argument as? [String: Any])?["target"] as? String { return "\(verb) \(target)" }
        return verb
    }
}
