/// Everything that can go wrong talking to the API server, with the context an operator needs:
/// the kubeconfig file and field for configuration problems, the URL, HTTP status and `Status`
/// reason for responses, the command and exit status for credential plugins.
///
/// Bearer tokens never appear in any case's text: configuration messages name the *field* that
/// holds a token, never its value, and URLs are printed through
/// ``ServerURL/redactingUserInfo(_:)``. Text the server sent (a `Status` message, a body) is
/// quoted as a short escaped excerpt.
public enum APIClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The client configuration is missing or broken (thrown at start).
    ///
    /// `file` is the kubeconfig (or in-cluster file) at fault, `field` its path inside it, e.g.
    /// `users[0].user.client-key`.
    case configuration(file: String, field: String?, message: String)
    /// The API server answered with a non-success status, before a watch stream or as an
    /// `ERROR` event inside one (then `status` is the `Status.code`).
    case status(url: String, status: Int, reason: String?, message: String?)
    /// The request did not get an answer: connection refused, TLS failure, connection reset,
    /// a deadline.
    case transport(url: String, message: String)
    /// The answer did not make sense: undecodable JSON, an unknown watch event type, a stream
    /// that ended in the middle of an event.
    case protocolViolation(url: String, message: String)
    /// The server sent more than we read into memory: a LIST response body or a single watch
    /// event above its documented limit (`limit` bytes), e.g. a broken proxy streaming one
    /// endless line. `what` says which (`watch event`, `list response`).
    case tooLarge(url: String, what: String, limit: Int)
    /// A credential could not be obtained at run time: an exec plugin failed or printed
    /// nonsense, a token file became unreadable.
    case credential(source: String, message: String)

    /// The HTTP status (or watch `ERROR` code), when the server answered.
    public var status: Int? {
        if case .status(_, let status, _, _) = self { return status }
        return nil
    }

    /// The `Status.reason` (`Expired`, `TooManyRequests`, …), when the server gave one.
    public var reason: String? {
        if case .status(_, _, let reason, _) = self { return reason }
        return nil
    }

    /// One line, e.g. `/x/kubeconfig: users[0].user.client-key: file /x/key.pem not readable` or
    /// `GET https://10.0.0.1:6443/api/v1/services?…: 410 Expired: too old resource version: 5 (120)`.
    public var description: String {
        switch self {
        case .configuration(let file, let field, let message):
            guard let field, !field.isEmpty else { return "\(file): \(message)" }
            return "\(file): \(field): \(message)"
        case .status(let url, let status, let reason, let message):
            var text = "GET \(url): \(status)"
            if let reason, !reason.isEmpty { text += " \(reason)" }
            if let message, !message.isEmpty { text += ": \(message)" }
            return text
        case .transport(let url, let message):
            return "GET \(url): \(message)"
        case .protocolViolation(let url, let message):
            return "GET \(url): protocol error: \(message)"
        case .tooLarge(let url, let what, let limit):
            return "GET \(url): \(what) larger than the \(Self.describeBytes(limit)) limit"
        case .credential(let source, let message):
            return "\(source): \(message)"
        }
    }

    /// `16 MiB`, `64 KiB` or `100 bytes`: limits as operators read them.
    static func describeBytes(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}
