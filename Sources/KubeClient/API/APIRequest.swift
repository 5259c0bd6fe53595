/// A GET against the API server: a path plus ordered query parameters.
///
/// A value, so the watch state machine can say exactly which request to issue and tests can
/// compare it; the transport turns it into a URL against the configured server.
struct APIRequest: Sendable, Hashable, CustomStringConvertible {
    /// One query parameter; order is kept so URLs (and logs) are deterministic.
    struct Parameter: Sendable, Hashable {
        /// Parameter name, e.g. `resourceVersion`.
        var name: String
        /// Unencoded value.
        var value: String
    }

    /// Absolute API path, e.g. `/api/v1/services`.
    var path: String
    /// Query parameters in the order they are sent.
    var query: [Parameter]

    /// Creates a request from `(name, value)` pairs.
    init(path: String, query: [(String, String)] = []) {
        self.path = path
        self.query = query.map { Parameter(name: $0.0, value: $0.1) }
    }

    /// The value of the first parameter called `name`.
    subscript(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// Whether this is a watch (`watch=true`).
    var isWatch: Bool { self["watch"] == "true" }

    /// Path and encoded query, e.g. `/api/v1/services?limit=500&resourceVersion=0`.
    var pathAndQuery: String {
        guard !query.isEmpty else { return path }
        let encoded = query.map { "\(Self.encode($0.name))=\(Self.encode($0.value))" }
        return path + "?" + encoded.joined(separator: "&")
    }

    /// The full URL under `server` (which may carry a path prefix, as behind some proxies).
    func url(server: String) -> String {
        var base = server
        while base.hasSuffix("/") { base.removeLast() }
        return base + pathAndQuery
    }

    /// The path and query, for logs.
    var description: String { pathAndQuery }

    /// Percent-encodes everything but RFC 3986 unreserved characters, so selectors (`!`, `,`,
    /// `=`) and opaque continue tokens (`+`, `/`) reach the server unchanged.
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                result += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
            }
        }
        return result
    }
}

/// What the API server answered: the status, the body (the whole body for a plain GET or a
/// failed watch; empty after a watch stream) and a `Retry-After` hint.
struct APIResponse: Sendable, Hashable {
    /// HTTP status.
    var status: Int
    /// Response body bytes.
    var body: [UInt8]
    /// Seconds from a `Retry-After` header, if any.
    var retryAfterSeconds: Int?

    /// Creates a response.
    init(status: Int, body: [UInt8] = [], retryAfterSeconds: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfterSeconds = retryAfterSeconds
    }
}
