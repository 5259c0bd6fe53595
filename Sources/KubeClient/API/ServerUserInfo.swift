import Foundation

/// User info (`user:password@`) split off a server URL, kept only to send HTTP basic auth.
///
/// Why it exists: upstream kube-proxy accepts `--master http://user:pass@host` (and a kubeconfig
/// `server:` with user info) because Go's `net/http` turns URL user info into
/// `Authorization: Basic …` when no other `Authorization` header is set. We do the same instead of
/// refusing to start, but the password must never be printed: ``ClientConfiguration/server``
/// keeps the URL without it, and this value prints, interpolates and dumps as `<redacted>`. Only
/// the transport reads ``authorizationValue``.
public struct ServerUserInfo: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The percent-decoded user name.
    let username: String
    /// The percent-decoded password (empty when the URL had none, as in Go).
    let password: String
    /// The URL as given, with its user info replaced by `REDACTED`, for the start-up warning.
    public let redactedURL: String

    /// The `Authorization` header value: `Basic base64(user:password)`.
    var authorizationValue: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    /// `<redacted>`.
    public var description: String { "<redacted>" }
    /// `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// A mirror with no children, so `dump` shows nothing either.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Splits `url` into the URL without user info and the user info, or returns `url` and `nil`
    /// when it has none.
    ///
    /// The user info is what ``ServerURL/redactingUserInfo(_:)`` hides (everything between the
    /// scheme and the last `@`), so the remaining URL never holds a fragment of the password even
    /// when it contains `/`, `?`, `#` or `@`. User and password split at the first `:` and are
    /// percent-decoded like Go's `url.UserPassword`; text that is not valid percent-encoding is
    /// used as typed rather than refused.
    public static func split(_ url: String) -> (server: String, userInfo: ServerUserInfo?) {
        guard let range = ServerURL.userInfoRange(url) else { return (url, nil) }
        let raw = url[range]
        var server = url
        server.removeSubrange(range.lowerBound...range.upperBound)  // the user info and its `@`
        let user: Substring
        let password: Substring
        if let colon = raw.firstIndex(of: ":") {
            user = raw[..<colon]
            password = raw[raw.index(after: colon)...]
        } else {
            user = raw
            password = ""
        }
        let info = ServerUserInfo(
            username: decode(user), password: decode(password), redactedURL: ServerURL.redactingUserInfo(url))
        return (server, info)
    }

    private static func decode(_ text: Substring) -> String {
        String(text).removingPercentEncoding ?? String(text)
    }
}

extension ClientConfiguration {
    /// The one warning to log at start when the server URL carried user info, naming the URL
    /// with its user info redacted; `nil` without user info.
    ///
    /// Basic auth was removed from the API server in Kubernetes 1.19, so a URL like this
    /// usually means a mistake the operator should see, yet upstream keeps running and so do we.
    public var serverUserInfoWarning: String? {
        guard let info = serverUserInfo else { return nil }
        let use: String
        switch credentials {
        case .none:
            use = "it is sent as HTTP basic auth (Authorization: Basic)"
        case .exec:
            use = "it is sent as HTTP basic auth (Authorization: Basic) whenever the exec plugin returns no token"
        case .token, .tokenFile:
            use = "it is not sent, since a bearer token is configured and takes precedence"
        }
        return "the API server URL \(info.redactedURL) (\(origin)) carries user info (user:password@); \(use); "
            + "API servers since Kubernetes 1.19 do not accept basic auth (use a token, a client certificate "
            + "or an exec plugin)"
    }
}
