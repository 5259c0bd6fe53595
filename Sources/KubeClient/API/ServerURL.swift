import Foundation

/// Keeps user info (`user:password@`) in a server URL out of logs and errors.
///
/// Why it exists: an operator may type `--master http://user:pass@host:6443` or put user info in
/// a kubeconfig's `server:`. We refuse such a URL at load (basic auth is not supported), but the
/// message that says so, and every log line or error that prints a server or request URL, must
/// name the host without the password. One function does it so no printer can forget a case.
///
/// The rule is deliberately blunt: everything between the scheme's `://` (or the start, without
/// a scheme) and the **last** `@` becomes `REDACTED`. A password containing `/`, `?`, `#` or `@`
/// (invalid in a URL, yet typed by people) is therefore hidden too; request paths and queries we
/// build never contain a raw `@` (``APIRequest/encode(_:)`` escapes it), so nothing else is lost.
public enum ServerURL {
    /// What replaces the user info.
    public static let redactedUserInfo = "REDACTED"

    /// `url` with any user info replaced by `REDACTED`, e.g. `http://REDACTED@127.0.0.1:8080/api`;
    /// unchanged when it has none.
    public static func redactingUserInfo(_ url: String) -> String {
        guard let range = userInfoRange(url) else { return url }
        return url.replacingCharacters(in: range, with: redactedUserInfo)
    }

    /// Whether `url` carries user info (a `@` after the scheme).
    public static func hasUserInfo(_ url: String) -> Bool {
        userInfoRange(url) != nil
    }

    /// The characters between the scheme (or the start) and the last `@`.
    private static func userInfoRange(_ url: String) -> Range<String.Index>? {
        let start = url.range(of: "://")?.upperBound ?? url.startIndex
        guard let at = url[start...].lastIndex(of: "@") else { return nil }
        return start..<at
    }
}

extension ClientConfiguration {
    /// ``server`` without user info, for every log line and error that names the server.
    public var redactedServer: String { ServerURL.redactingUserInfo(server) }
}
