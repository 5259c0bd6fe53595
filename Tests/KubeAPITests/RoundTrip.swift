import Foundation
import KubeAPI
import Testing

/// Round-trip checks shared by the per-type tests.
enum RoundTrip {
    /// Decodes `data` as `T`, re-encodes it, decodes again and checks (1) both decodes are equal,
    /// (2) every leaf of the original JSON is either under one of `unmodelled` (dotted paths such
    /// as `metadata.managedFields`) or present in the re-encoded JSON with the same value, and
    /// (3) the re-encoded JSON contains nothing the original did not.
    static func check<T: Codable & Hashable>(
        _ type: T.Type, _ data: Data, unmodelled: Set<String> = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let first = try JSONDecoder().decode(T.self, from: data)
        let encoded = try JSONEncoder().encode(first)
        let second = try JSONDecoder().decode(T.self, from: encoded)
        #expect(first == second, sourceLocation: sourceLocation)

        let original = try JSONDecoder().decode(JSONValue.self, from: data)
        let reencoded = try JSONDecoder().decode(JSONValue.self, from: encoded)
        var originalLeaves: [String: JSONValue] = [:]
        leaves(of: original, path: "", into: &originalLeaves)
        var reencodedLeaves: [String: JSONValue] = [:]
        leaves(of: reencoded, path: "", into: &reencodedLeaves)

        for (path, value) in originalLeaves.sorted(by: { $0.key < $1.key }) {
            if isUnmodelled(path, unmodelled) {
                #expect(
                    reencodedLeaves[path] == nil, "unmodelled \(path) was re-encoded", sourceLocation: sourceLocation)
                continue
            }
            #expect(reencodedLeaves[path] == value, "\(path) lost or changed", sourceLocation: sourceLocation)
        }
        for path in reencodedLeaves.keys.sorted() where originalLeaves[path] == nil {
            Issue.record("re-encoded JSON invented \(path)", sourceLocation: sourceLocation)
        }
    }

    /// Flattens JSON into `dotted.path[index]` → scalar (or empty container).
    static func leaves(of value: JSONValue, path: String, into result: inout [String: JSONValue]) {
        switch value {
        case .object(let members) where !members.isEmpty:
            for (key, member) in members {
                leaves(of: member, path: path.isEmpty ? key : "\(path).\(key)", into: &result)
            }
        case .array(let elements) where !elements.isEmpty:
            for (index, element) in elements.enumerated() {
                leaves(of: element, path: "\(path)[\(index)]", into: &result)
            }
        default:
            result[path] = value
        }
    }

    private static func isUnmodelled(_ path: String, _ prefixes: Set<String>) -> Bool {
        prefixes.contains { path == $0 || path.hasPrefix($0 + ".") || path.hasPrefix($0 + "[") }
    }
}
