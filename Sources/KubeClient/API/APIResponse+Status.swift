import Foundation
import KubeAPI

/// Reading the API server's verdict out of an error response or a watch `ERROR` event.
///
/// A `410` means "your resourceVersion (or continue token) is too old": relist. A `504` with
/// cause `ResourceVersionTooLarge` means "I have not seen that version yet": relist from a
/// consistent read. A `429` asks for a pause (`Retry-After`). The code is the only thing to go by
/// inside a watch, where the HTTP status was already `200`, so both paths classify a `Status`.
extension Status {
    /// `410`, or reason `Expired`/`Gone` (older servers), as client-go's `isExpiredError`.
    var isExpired: Bool {
        code == 410 || reason == "Expired" || reason == "Gone"
    }

    /// "Too large resource version" (`504` with a `ResourceVersionTooLarge` cause).
    var isResourceVersionTooLarge: Bool {
        if details?.causes?.contains(where: { $0.reason == "ResourceVersionTooLarge" }) == true { return true }
        return message?.contains("Too large resource version") == true
    }

    /// The server asks us to slow down.
    var isTooManyRequests: Bool {
        code == 429 || reason == "TooManyRequests"
    }

    /// The error a client reports for this status at `url`; the server's reason and message
    /// are quoted as short escaped excerpts (they may be anything a proxy in between sent).
    func error(url: String, fallbackCode: Int) -> APIClientError {
        .status(
            url: url, status: code ?? fallbackCode, reason: reason.map { LogExcerpt.quote($0, limit: 60) },
            message: message.map { LogExcerpt.quote($0) })
    }
}

extension APIResponse {
    /// The `Status` in the body, or one made from the HTTP status and an escaped excerpt of a
    /// body that is not a `Status` (an HTML page from a proxy, say).
    var decodedStatus: Status {
        if let decoded = try? JSONDecoder().decode(Status.self, from: Data(body)), decoded.kind == "Status" {
            var status = decoded
            if status.code == nil { status.code = self.status }
            return status
        }
        let text = LogExcerpt.quote(bytes: body)
        return Status(message: text.isEmpty ? nil : text, code: self.status)
    }

    /// How long the server asked us to wait: `Retry-After`, else `details.retryAfterSeconds`.
    func retryAfter(_ status: Status) -> Duration? {
        if let seconds = retryAfterSeconds ?? status.details?.retryAfterSeconds, seconds > 0 {
            return .seconds(seconds)
        }
        return nil
    }
}
