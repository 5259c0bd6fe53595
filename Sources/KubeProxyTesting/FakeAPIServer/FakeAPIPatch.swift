import Foundation
import KubeAPI

/// Why a patch could not be applied: the document is malformed, or (JSON patch) an operation
/// addresses something that is not there.
public struct FakeAPIPatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the key, merge key or pointer involved.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// The three patch formats of `PATCH` on a Kubernetes object, as pure functions over JSON:
/// JSON merge patch (RFC 7386, `application/merge-patch+json`), JSON patch (RFC 6902,
/// `application/json-patch+json`) and strategic merge patch
/// (`application/strategic-merge-patch+json`, what `kubectl apply`, `edit` and `patch` send).
public enum FakeAPIPatch {
    // MARK: JSON merge patch

    /// Applies an RFC 7386 merge patch: objects merge member by member, `null` removes a member,
    /// anything else (arrays included) replaces the target.
    public static func mergePatch(_ target: JSONValue?, _ patch: JSONValue) -> JSONValue {
        guard case .object(let members) = patch else { return patch }
        var result: [String: JSONValue] = [:]
        if case .object(let existing) = target { result = existing }
        for (name, value) in members {
            if value == .null {
                result[name] = nil
            } else {
                result[name] = mergePatch(result[name], value)
            }
        }
        return .object(result)
    }

    // MARK: JSON patch

    /// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`), all
    /// or nothing.
    ///
    /// - Throws: ``FakeAPIPatchError`` naming the operation (by index) and its path when an
    ///   operation is malformed, addresses a missing member or index, or a `test` fails.
    public static func jsonPatch(_ document: JSONValue, operations: JSONValue) throws(FakeAPIPatchError) -> JSONValue {
        guard case .array(let list) = operations else { throw FakeAPIPatchError("a JSON patch must be an array of operations") }
        var result = document
        for (index, operation) in list.enumerated() {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw FakeAPIPatchError("operation \(index): needs string members \"op\" and \"path\"")
            }
            let pointer = try JSONPointer(path, operation: index)
            func value() throws(FakeAPIPatchError) -> JSONValue {
                guard let value = operation["value"] else {
                    throw FakeAPIPatchError("operation \(index) (\(op) \(path)): missing \"value\"")
                }
                return value
            }
            func from() throws(FakeAPIPatchError) -> JSONPointer {
                guard let from = operation["from"]?.stringValue else {
                    throw FakeAPIPatchError("operation \(index) (\(op) \(path)): missing \"from\"")
                }
                return try JSONPointer(from, operation: index)
            }
            switch op {
            case "add":
                result = try pointer.adding(try value(), to: result)
            case "remove":
                result = try pointer.removing(from: result).document
            case "replace":
                _ = try pointer.value(in: result)
                result = try pointer.adding(try value(), to: try pointer.removing(from: result).document)
            case "move":
                let source = try from()
                let (remaining, moved) = try source.removing(from: result)
                result = try pointer.adding(moved, to: remaining)
            case "copy":
                result = try pointer.adding(try from().value(in: result), to: result)
            case "test":
                guard try pointer.value(in: result) == (try value()) else {
                    throw FakeAPIPatchError("operation \(index): test failed: the value at \(path) differs")
                }
            default:
                throw FakeAPIPatchError("operation \(index): unknown op \"\(op)\"")
            }
        }
        return result
    }

    // MARK: Strategic merge patch

    /// Applies a strategic merge patch to `original` as the API server does (with unmatched
    /// nulls ignored): maps merge key by key and `null` deletes a key; lists follow `schema`
    /// (merged by key, merged as a set, or replaced). Directives: `$patch: replace|delete` on a
    /// map or a list element, `$retainKeys`, `$setElementOrder/<list>` and
    /// `$deleteFromPrimitiveList/<list>`.
    ///
    /// - Throws: ``FakeAPIPatchError`` for a patch that is not an object, an unknown `$patch`
    ///   value, a list element without its merge key, or a malformed directive.
    public static func strategicMergePatch(
        _ original: JSONValue, _ patch: JSONValue, schema: FakeAPIPatchSchema
    ) throws(FakeAPIPatchError) -> JSONValue {
        guard case .object(let patchMembers) = patch else { throw FakeAPIPatchError("a strategic merge patch must be a JSON object") }
        guard case .object(let originalMembers) = original else {
            throw FakeAPIPatchError("the object to patch is not a JSON object")
        }
        return .object(try mergeMap(originalMembers, patchMembers, schema: schema, path: ""))
    }

    private static let setElementOrderPrefix = "$setElementOrder/"
    private static let deleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/"

    private static func mergeMap(
        _ original: [String: JSONValue], _ patch: [String: JSONValue], schema: FakeAPIPatchSchema, path: String
    ) throws(FakeAPIPatchError) -> [String: JSONValue] {
        var patch = patch
        if let directive = patch.removeValue(forKey: "$patch") {
            switch directive.stringValue {
            case "replace": return try mergeMap([:], patch, schema: schema, path: path)
            case "delete": return [:]
            default: throw FakeAPIPatchError("\(location(path)): unknown $patch directive \(directive) (want replace or delete)")
            }
        }
        var result = original
        if let retain = patch.removeValue(forKey: "$retainKeys") {
            guard case .array(let items) = retain else {
                throw FakeAPIPatchError("\(location(path)): $retainKeys must be a list of strings")
            }
            var keys: Set<String> = []
            for item in items {
                guard let key = item.stringValue else {
                    throw FakeAPIPatchError("\(location(path)): $retainKeys must be a list of strings")
                }
                keys.insert(key)
            }
            for key in patch.keys where !key.hasPrefix("$") && !keys.contains(key) {
                throw FakeAPIPatchError("\(location(path)): key \(key) is in the patch but not in $retainKeys")
            }
            result = result.filter { keys.contains($0.key) }
        }
        var orders: [String: [JSONValue]] = [:]
        for key in patch.keys.sorted() where key.hasPrefix("$") {
            let value = patch.removeValue(forKey: key) ?? .null
            if key.hasPrefix(setElementOrderPrefix) {
                guard case .array(let order) = value else { throw FakeAPIPatchError("\(location(path)): \(key) must be a list") }
                orders[String(key.dropFirst(setElementOrderPrefix.count))] = order
            } else if key.hasPrefix(deleteFromPrimitiveListPrefix) {
                let field = String(key.dropFirst(deleteFromPrimitiveListPrefix.count))
                guard case .array(let doomed) = value else { throw FakeAPIPatchError("\(location(path)): \(key) must be a list") }
                if case .array(let items) = result[field] { result[field] = .array(items.filter { !doomed.contains($0) }) }
            } else {
                throw FakeAPIPatchError("\(location(path)): unknown directive \(key)")
            }
        }
        for (key, value) in patch {
            let fieldPath = path + "." + key
            let fieldSchema = schema.field(key)
            switch (result[key], value) {
            case (_, .null):
                result[key] = nil
            case (.object(let existing), .object(let change)):
                result[key] = .object(try mergeMap(existing, change, schema: fieldSchema, path: fieldPath))
            case (.array(let existing), .array(let change)):
                result[key] = .array(try mergeList(existing, change, schema: fieldSchema, order: orders[key], path: fieldPath))
            case (nil, .object(let change)):
                result[key] = .object(try mergeMap([:], change, schema: fieldSchema, path: fieldPath))
            case (nil, .array(let change)):
                result[key] = .array(try mergeList([], change, schema: fieldSchema, order: orders[key], path: fieldPath))
            default:
                result[key] = value
            }
        }
        // A `$setElementOrder` without its list in the patch still reorders the stored list.
        for (key, order) in orders where patch[key] == nil {
            if case .array(let existing) = result[key] {
                result[key] = .array(try mergeList(existing, [], schema: schema.field(key), order: order, path: path + "." + key))
            }
        }
        return result
    }

    private static func mergeList(
        _ original: [JSONValue], _ patch: [JSONValue], schema: FakeAPIPatchSchema, order: [JSONValue]?, path: String
    ) throws(FakeAPIPatchError) -> [JSONValue] {
        switch schema.list {
        case .replace:
            return try patch.map { item throws(FakeAPIPatchError) in try cleaned(item, schema: schema, path: path) }
        case .mergeScalars:
            var merged = original
            for item in patch where !merged.contains(item) { merged.append(item) }
            guard let order else { return merged }
            return normalize(merged, order: order, original: original, identity: { $0 })
        case .mergeByKey(let mergeKey):
            var merged = original
            var additions: [[String: JSONValue]] = []
            for item in patch {
                guard case .object(var element) = item else {
                    throw FakeAPIPatchError("\(location(path)): a list merged by \(mergeKey) holds a non-object: \(item)")
                }
                if let directive = element.removeValue(forKey: "$patch") {
                    switch directive.stringValue {
                    case "replace":
                        let rest = patch.filter { $0["$patch"] == nil }
                        return try rest.map { item throws(FakeAPIPatchError) in try cleaned(item, schema: schema, path: path) }
                    case "delete":
                        guard let keyValue = element[mergeKey] else {
                            throw FakeAPIPatchError("\(location(path)): $patch: delete element does not contain merge key \(mergeKey)")
                        }
                        merged.removeAll { $0[mergeKey] == keyValue }
                        continue
                    default:
                        throw FakeAPIPatchError("\(location(path)): unknown $patch directive \(directive) (want replace or delete)")
                    }
                }
                guard element[mergeKey] != nil else {
                    throw FakeAPIPatchError("\(location(path)): map \(item) does not contain declared merge key: \(mergeKey)")
                }
                additions.append(element)
            }
            for element in additions {
                let keyValue = element[mergeKey]
                if let index = merged.firstIndex(where: { $0[mergeKey] == keyValue }), case .object(let existing) = merged[index] {
                    merged[index] = .object(try mergeMap(existing, element, schema: schema, path: path))
                } else {
                    merged.append(.object(try mergeMap([:], element, schema: schema, path: path)))
                }
            }
            guard let order else { return merged }
            return normalize(merged, order: order, original: original, identity: { $0[mergeKey] ?? $0 })
        }
    }

    /// Orders a merged list as the server does for `$setElementOrder`: elements named in
    /// `order` in that order, elements only the server had in their stored order, the two
    /// interleaved by their positions in `original`.
    private static func normalize(
        _ merged: [JSONValue], order: [JSONValue], original: [JSONValue], identity: (JSONValue) -> JSONValue
    ) -> [JSONValue] {
        let orderKeys = order.map(identity)
        let originalKeys = original.map(identity)
        func position(_ keys: [JSONValue], _ item: JSONValue) -> Int? { keys.firstIndex(of: identity(item)) }
        var fromPatch = merged.filter { position(orderKeys, $0) != nil }
        fromPatch.sort { (position(orderKeys, $0) ?? 0) < (position(orderKeys, $1) ?? 0) }
        let serverOnly = merged.filter { position(orderKeys, $0) == nil }
        var result: [JSONValue] = []
        var left = serverOnly[...]
        var right = fromPatch[...]
        while let server = left.first, let patched = right.first {
            if let l = position(originalKeys, server), let r = position(originalKeys, patched), l < r {
                result.append(server)
                left = left.dropFirst()
            } else {
                result.append(patched)
                right = right.dropFirst()
            }
        }
        return result + left + right
    }

    /// A patch value with its directives applied to nothing (and nulls dropped), for values
    /// that land where the original had none.
    private static func cleaned(_ value: JSONValue, schema: FakeAPIPatchSchema, path: String) throws(FakeAPIPatchError) -> JSONValue {
        guard case .object(let members) = value else { return value }
        return .object(try mergeMap([:], members, schema: schema, path: path))
    }

    private static func location(_ path: String) -> String {
        path.isEmpty ? "the patch" : String(path.dropFirst())
    }
}

/// An RFC 6901 JSON pointer (`/spec/ports/0/port`; `~1` is `/`, `~0` is `~`).
struct JSONPointer {
    /// The unescaped reference tokens.
    var tokens: [String]
    /// The pointer as written, for messages.
    var text: String
    /// The operation it came from, for messages.
    var operation: Int

    init(_ text: String, operation: Int) throws(FakeAPIPatchError) {
        self.text = text
        self.operation = operation
        guard text.isEmpty || text.hasPrefix("/") else { throw FakeAPIPatchError("operation \(operation): path \(text) must start with /") }
        tokens = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private func missing() -> FakeAPIPatchError {
        FakeAPIPatchError("operation \(operation): path \(text) does not exist")
    }

    private func index(_ token: String, count: Int, allowEnd: Bool) throws(FakeAPIPatchError) -> Int {
        if allowEnd && token == "-" { return count }
        guard let index = Int(token), index >= 0, index < count + (allowEnd ? 1 : 0), String(index) == token else { throw missing() }
        return index
    }

    /// The value the pointer addresses.
    func value(in document: JSONValue) throws(FakeAPIPatchError) -> JSONValue {
        var current = document
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw missing() }
                current = next
            case .array(let items):
                current = items[try index(token, count: items.count, allowEnd: false)]
            default:
                throw missing()
            }
        }
        return current
    }

    /// `document` with `value` added at the pointer (an object member set, an array element
    /// inserted; `-` appends).
    func adding(_ value: JSONValue, to document: JSONValue) throws(FakeAPIPatchError) -> JSONValue {
        try update(document, tokens[...]) { container, last throws(FakeAPIPatchError) in
            switch container {
            case .object(var members):
                members[last] = value
                return .object(members)
            case .array(var items):
                items.insert(value, at: try index(last, count: items.count, allowEnd: true))
                return .array(items)
            default:
                throw missing()
            }
        } root: {
            value
        }
    }

    /// `document` without the value at the pointer, and that value.
    func removing(from document: JSONValue) throws(FakeAPIPatchError) -> (document: JSONValue, removed: JSONValue) {
        let removed = try value(in: document)
        let remaining = try update(document, tokens[...]) { container, last throws(FakeAPIPatchError) in
            switch container {
            case .object(var members):
                members[last] = nil
                return .object(members)
            case .array(var items):
                items.remove(at: try index(last, count: items.count, allowEnd: false))
                return .array(items)
            default:
                throw missing()
            }
        } root: {
            .null
        }
        return (remaining, removed)
    }

    private func update(
        _ document: JSONValue, _ tokens: ArraySlice<String>,
        _ change: (JSONValue, String) throws(FakeAPIPatchError) -> JSONValue, root: () -> JSONValue
    ) throws(FakeAPIPatchError) -> JSONValue {
        guard let first = tokens.first else { return root() }
        if tokens.count == 1 { return try change(document, first) }
        switch document {
        case .object(var members):
            guard let child = members[first] else { throw missing() }
            members[first] = try update(child, tokens.dropFirst(), change, root: root)
            return .object(members)
        case .array(var items):
            let position = try index(first, count: items.count, allowEnd: false)
            items[position] = try update(items[position], tokens.dropFirst(), change, root: root)
            return .array(items)
        default:
            throw missing()
        }
    }
}
