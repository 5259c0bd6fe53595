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
    /// The items, sorted by storage key.
    var items: [any FakeAPIObject]
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
    /// - Throws: the `Status` the real server answers with (400, 410, 422, 504).
    func list(_ options: FakeAPIListOptions) throws(Status) -> FakeAPIListPage {
        let (snapshotVersion, startKey) = try resolveSnapshot(options)
        let all = snapshot(of: options.filter.resource, at: snapshotVersion)
            .filter { entry in startKey.map { entry.key >= $0 } ?? true }
            .sorted { $0.key < $1.key }
            .filter { options.filter.matches($0.value) }
        guard let limit = options.limit, limit > 0, all.count > limit else {
            return FakeAPIListPage(resourceVersion: snapshotVersion, items: all.map(\.value))
        }
        let page = all.prefix(limit)
        let lastKey = page.last?.key ?? ""
        let hasSelector = !options.filter.labels.requirements.isEmpty || !options.filter.fields.isEmpty
        return FakeAPIListPage(
            resourceVersion: snapshotVersion, items: page.map(\.value),
            continueToken: FakeAPIContinueToken(resourceVersion: snapshotVersion, start: lastKey + "\u{0}").encoded(),
            remainingItemCount: hasSelector ? nil : all.count - limit
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
