import Foundation

/// One HTTP request as the fake's dispatcher sees it: method, path, decoded query, the bearer
/// token and whether TLS already authenticated the client by certificate.
struct FakeAPIRequest: Sendable {
    /// `GET`, `POST`, …
    var method: String
    /// The path without the query, e.g. `/api/v1/services`.
    var path: String
    /// Query parameters, decoded (`+` is a space, `%xx` escapes resolved); the last one wins.
    var query: [String: String]
    /// The `Authorization` header value, if any.
    var authorization: String?
    /// Whether the client presented a certificate that TLS verified against the CA.
    var hasVerifiedClientCertificate: Bool
    /// The request body (for POST/PUT/PATCH).
    var body: [UInt8]
    /// The `Content-Type` header without parameters (`application/merge-patch+json`), if any;
    /// PATCH chooses the patch format by it.
    var contentType: String?

    /// Splits `uri` (`/path?query`) into path and decoded query.
    init(
        method: String, uri: String, authorization: String?, hasVerifiedClientCertificate: Bool, body: [UInt8] = [],
        contentType: String? = nil
    ) {
        self.method = method
        self.contentType = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        self.authorization = authorization
        self.hasVerifiedClientCertificate = hasVerifiedClientCertificate
        self.body = body
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts.first.map(String.init) ?? "/"
        query = [:]
        guard parts.count == 2 else { return }
        for pair in parts[1].split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(keyValue[0])
            query[key] = keyValue.count == 2 ? Self.decode(keyValue[1]) : ""
        }
    }

    /// Whether this is a watch (`watch=true`, `watch=1`; Go's `strconv.ParseBool` spellings).
    var isWatch: Bool {
        guard let value = query["watch"] else { return false }
        return ["1", "t", "T", "true", "TRUE", "True"].contains(value)
    }

    /// Form-decodes one query component.
    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

/// A request as recorded for assertions: what a client asked for, in arrival order.
public struct FakeAPIRequestRecord: Sendable, Hashable {
    /// `GET`, `POST`, …
    public var method: String
    /// The path without the query.
    public var path: String
    /// The decoded query parameters.
    public var query: [String: String]
    /// Whether it asked for a watch.
    public var isWatch: Bool
}
