import Foundation
import KubeProxyNFTables

extension FakeNFTable {
    /// The table as `nft -j list table` prints it (nft 1.0.6, JSON schema 1): the table, its
    /// sets and maps with elements, chains with hooks, then one object per rule (expressions
    /// left empty; a reader can count and attribute rules, not decode them).
    public func jsonListing() -> String {
        var objects: [[String: Any]] = [
            ["metainfo": ["version": "1.0.6", "release_name": "fake", "json_schema_version": 1]],
            ["table": ["family": family.rawValue, "name": name, "handle": 1]],
        ]
        var handle = 1
        for setName in setOrder {
            guard let set = sets[setName] else { continue }
            handle += 1
            var object: [String: Any] = [
                "family": family.rawValue, "name": setName, "table": name, "handle": handle,
                "type": set.definition.keyType.count == 1 ? set.definition.keyType[0] as Any : set.definition.keyType as Any,
            ]
            if let comment = set.definition.comment { object["comment"] = comment }
            if let valueType = set.definition.valueType { object["map"] = valueType }
            if !set.definition.flags.isEmpty { object["flags"] = set.definition.flags.filter { $0 != "dynamic" } }
            if let timeout = set.definition.timeoutSeconds { object["timeout"] = timeout }
            let elements = set.elements.keys.sorted().compactMap { set.elements[$0] }.map { element -> Any in
                let key = Self.jsonKey(element, type: set.definition.keyType)
                guard let value = element.value else { return key }
                return [key, Self.jsonVerdict(value)]
            }
            if !elements.isEmpty { object["elem"] = elements }
            objects.append([set.definition.kind.rawValue: object])
        }
        for chainName in chainOrder {
            guard let chain = chains[chainName] else { continue }
            handle += 1
            var object: [String: Any] = ["family": family.rawValue, "table": name, "name": chainName, "handle": handle]
            if let base = chain.definition.base {
                object["type"] = base.type
                object["hook"] = base.hook
                object["prio"] = base.priority
                object["policy"] = "accept"
            }
            objects.append(["chain": object])
        }
        for chainName in chainOrder {
            for rule in chains[chainName]?.rules ?? [] {
                handle += 1
                var object: [String: Any] = ["family": family.rawValue, "table": name, "chain": chainName, "handle": handle, "expr": []]
                if let comment = rule.comment { object["comment"] = comment }
                objects.append(["rule": object])
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["nftables": objects], options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// An element key as nft prints it: a string, a number (ports), `concat`, or `elem` with a comment.
    static func jsonKey(_ element: NFTElement, type: [String]) -> Any {
        let fields: [Any] = zip(element.key, type).map { field, type in
            type == "inet_service" ? (Int(field) ?? 0) as Any : field as Any
        }
        let value: Any = fields.count == 1 ? fields[0] : ["concat": fields]
        guard let comment = element.comment else { return value }
        return ["elem": ["val": value, "comment": comment]]
    }

    /// A verdict as nft prints it: `{"goto": {"target": X}}` or `{"drop": null}`.
    static func jsonVerdict(_ value: String) -> Any {
        let words = value.split(separator: " ")
        if words.count == 2 { return [String(words[0]): ["target": String(words[1])]] }
        return [value: NSNull()]
    }
}
