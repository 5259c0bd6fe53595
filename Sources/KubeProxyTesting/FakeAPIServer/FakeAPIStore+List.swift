import Foundation
import KubeAPI

/// The options of one LIST request, as sent on the query string.
struct FakeAPIListOptions: Sendable {
    /// Namespace, selectors.
    var filter: FakeAPIFilter
    /// `resourceVersion`, verbatim (`nil` when absent).
    var resourceVersion: String?
    /// `resourceVersionMatch` (`Exact` / `NotOlderThan`).
    var resourceVersionMatch: String?
    /// `limit`; `nil` or 0 means everything.
    var limit: Int?
    /// `continue`.
    var continueToken: String?
}

/// One page of a LIST.
struct FakeAPIListPage: Sendable {
    /// The snapshot's version (the first page's on every page).
    var resourceVersion: Int
    /// The items with their JSON, sorted by storage key.
    var items: [FakeAPIStoredObject]
    /// The token for the next page; `nil` on the last page.
    var continueToken: String?
    /// How many items are left, when it is known exactly (no selector), as upstream.
    var remainingItemCount: Int?
}

extension FakeAPIStore {
    /// Serves a LIST following the resourceVersion/resourceVersionMatch/limit/continue table of
    /// the API: most-recent reads for unset or "0", exact snapshots for `Exact` or `limit` with a
    /// version, consistent pages from the first page's snapshot, 410 once a snapshot left the
    /// history window, 504 for a version the store has not reached.
    ///
    /// A read at the current version walks the sorted keys from the page's start and reuses the
    /// stored JSON; an older snapshot (a later page after writes, an exact read) merges the
    /// rolled-back keys in and encodes only the rolled-back objects.
    ///
    /// - Throws: the `Status` the real server answers with (400, 410, 422, 504).
    func list(_ options: FakeAPIListOptions) throws(Status) -> FakeAPIListPage {
        let (snapshotVersion, startKey) = try resolveSnapshot(options)
        let filter = options.filter
        let resource = filter.resource
        let current = objects[resource] ?? [:]
        let earlier = rollback(of: resource, to: snapshotVersion)
        var keys = sortedKeys[resource] ?? []
        if !earlier.isEmpty { keys = Set(keys).union(earlier.keys).sorted() }
        // Keys are `namespace/name` and sorted, so one namespace is one contiguous range.
        var lower = startKey.map(keys.firstIndex(atOrAfter:)) ?? 0
        var upper = keys.count
        let byNamespace = resource.isNamespaced ? filter.namespace.flatMap { $0.isEmpty ? nil : $0 } : nil
        if let byNamespace {
            lower = Swift.max(lower, keys.firstIndex(atOrAfter: byNamespace + "/"))
            upper = Swift.max(lower, keys.firstIndex(atOrAfter: byNamespace + "0"))  // "0" follows "/"
        }
        let hasSelector = !filter.labels.requirements.isEmpty || !filter.fields.isEmpty
        // Without a selector or a rollback, every key in the (namespace) range is an item.
        let everyKeyMatches = !hasSelector && earlier.isEmpty && (filter.namespace == nil || byNamespace != nil || !resource.isNamespaced)
        let item: (String) -> FakeAPIStoredObject? = { key in
            guard let rolledBack = earlier[key] else { return current[key] }
            return rolledBack.map(FakeAPIStoredObject.init)
        }
        let limit = options.limit.flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        var items: [FakeAPIStoredObject] = []
        var lastKey = ""
        var position = lower
        while position < upper, items.count < limit {
            if let stored = item(keys[position]), filter.matches(stored.object) {
                items.append(stored)
                lastKey = keys[position]
            }
            position += 1
        }
        var remaining = upper - position
        if !everyKeyMatches {
            remaining = 0
            for key in keys[position..<upper] {
                guard let stored = item(key), filter.matches(stored.object) else { continue }
                remaining += 1
                // With a selector the count is not reported: whether there is more is enough.
                if hasSelector { break }
            }
        }
        guard remaining > 0 else { return FakeAPIListPage(resourceVersion: snapshotVersion, items: items) }
        return FakeAPIListPage(
            resourceVersion: snapshotVersion, items: items,
            continueToken: FakeAPIContinueToken(resourceVersion: snapshotVersion, start: lastKey + "\u{0}").encoded(),
            remainingItemCount: hasSelector ? nil : remaining
        )
    }

    /// The version to read at and the first key of the page.
    private func resolveSnapshot(_ options: FakeAPIListOptions) throws(Status) -> (Int, String?) {
        if let token = options.continueToken, !token.isEmpty {
            if let rv = options.resourceVersion, !rv.isEmpty, rv != "0" {
                throw FakeAPIStatus.badRequest("specifying resource version is not allowed when using continue")
            }
            guard let decoded = FakeAPIContinueToken(decoding: token) else {
                throw FakeAPIStatus.badRequest(
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            }
            guard decoded.resourceVersion >= compactedResourceVersion else {
                let fresh = FakeAPIContinueToken(resourceVersion: resourceVersion, start: decoded.start)
                throw FakeAPIStatus.continueExpired(freshToken: fresh.encoded())
            }
            return (decoded.resourceVersion, decoded.start)
        }
        let match = options.resourceVersionMatch.flatMap { $0.isEmpty ? nil : $0 }
        guard match == nil || match == "Exact" || match == "NotOlderThan" else {
            throw FakeAPIStatus.invalid("resourceVersionMatch: Unsupported value: \"\(match ?? "")\"")
        }
        guard let text = options.resourceVersion, !text.isEmpty else {
            if match != nil { throw FakeAPIStatus.invalid("resourceVersionMatch is forbidden unless resourceVersion is provided") }
            return (resourceVersion, nil)
        }
        guard let requested = Int(text), requested >= 0 else {
            throw FakeAPIStatus.badRequest("invalid resource version: \(text)")
        }
        if requested == 0 {
            if match == "Exact" { throw FakeAPIStatus.invalid("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"") }
            return (resourceVersion, nil)
        }
        guard requested <= resourceVersion else {
            throw FakeAPIStatus.tooLargeResourceVersion(requested: requested, current: resourceVersion)
        }
        let exact = match == "Exact" || (match == nil && (options.limit ?? 0) > 0)
        guard exact else { return (resourceVersion, nil) }
        guard requested >= compactedResourceVersion else { throw FakeAPIStatus.listTooOld() }
        return (requested, nil)
    }
}

/// The continue token: base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}`, the
/// same shape as kube-apiserver's, so it is opaque to clients in the same way.
struct FakeAPIContinueToken: Codable, Sendable, Hashable {
    /// Always `meta.k8s.io/v1`.
    var v = "meta.k8s.io/v1"
    /// The snapshot version of the list.
    var rv: Int
    /// The first key of the next page.
    var start: String

    /// The token for a snapshot and start key.
    init(resourceVersion: Int, start: String) {
        self.rv = resourceVersion
        self.start = start
    }

    /// Decodes a token; `nil` when it is not one of ours.
    init?(decoding token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
            let decoded = try? JSONDecoder().decode(FakeAPIContinueToken.self, from: data),
            decoded.v == "meta.k8s.io/v1"
        else { return nil }
        self = decoded
    }

    /// The snapshot version.
    var resourceVersion: Int { rv }

    /// The token text.
    func encoded() -> String {
        Data(FakeAPIJSON.encode(self)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
