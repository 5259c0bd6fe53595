import KubeAPI

/// The `Status` bodies the fake server answers with, worded like kube-apiserver's so a client's
/// error handling sees what it will see in production.
public enum FakeAPIStatus {
    /// A `Failure` status with `code`, `reason` and `message`.
    public static func failure(
        code: Int, reason: String, message: String, details: StatusDetails? = nil
    ) -> Status {
        Status(metadata: ListMeta(), status: "Failure", message: message, reason: reason, details: details, code: code)
    }

    /// 404 for a missing object: `services "web" not found`.
    public static func notFound(_ resource: FakeAPIResource, name: String) -> Status {
        failure(
            code: 404, reason: "NotFound", message: "\(resource.rawValue) \"\(name)\" not found",
            details: StatusDetails(name: name, group: resource.group.isEmpty ? nil : resource.group, kind: resource.rawValue)
        )
    }

    /// 404 for a path that names no served resource.
    public static func pathNotFound() -> Status {
        failure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
    }

    /// 409 on create of an object that exists.
    public static func alreadyExists(_ resource: FakeAPIResource, name: String) -> Status {
        failure(
            code: 409, reason: "AlreadyExists", message: "\(resource.rawValue) \"\(name)\" already exists",
            details: StatusDetails(name: name, group: resource.group.isEmpty ? nil : resource.group, kind: resource.rawValue)
        )
    }

    /// 409 on an update whose `resourceVersion` is not the stored one (optimistic concurrency).
    public static func conflict(_ resource: FakeAPIResource, name: String) -> Status {
        failure(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(resource.rawValue) \"\(name)\": the object has been modified; "
                + "please apply your changes to the latest version and try again",
            details: StatusDetails(name: name, group: resource.group.isEmpty ? nil : resource.group, kind: resource.rawValue)
        )
    }

    /// 410 `Expired` for a watch from a compacted resourceVersion, worded as the watch cache does.
    public static func tooOldResourceVersion(requested: Int, oldest: Int) -> Status {
        failure(code: 410, reason: "Expired", message: "too old resource version: \(requested) (\(oldest))")
    }

    /// 410 `Expired` for an exact LIST at a compacted resourceVersion.
    public static func listTooOld() -> Status {
        failure(code: 410, reason: "Expired", message: "The resourceVersion for the provided list is too old.")
    }

    /// 410 `Expired` for a continue token older than the history window, carrying a fresh
    /// (inconsistent) token as the real server does.
    public static func continueExpired(freshToken: String) -> Status {
        var status = failure(
            code: 410, reason: "Expired",
            message: "The provided continue parameter is too old to display a consistent list result. "
                + "You can start a new list without the continue parameter, or use the continue token in this "
                + "response to retrieve the remainder of the results. Continuing with the provided token results "
                + "in an inconsistent list - objects that were created, modified, or deleted between the time the "
                + "first chunk was returned and now may show up in the list."
        )
        status.metadata = ListMeta(continue: freshToken)
        return status
    }

    /// 504 `Timeout` for a resourceVersion the server has not reached.
    public static func tooLargeResourceVersion(requested: Int, current: Int) -> Status {
        failure(
            code: 504, reason: "Timeout",
            message: "Too large resource version: \(requested), current: \(current)",
            details: StatusDetails(
                causes: [StatusCause(reason: "ResourceVersionTooLarge", message: "Too large resource version")],
                retryAfterSeconds: 1
            )
        )
    }

    /// 400 `BadRequest`.
    public static func badRequest(_ message: String) -> Status {
        failure(code: 400, reason: "BadRequest", message: message)
    }

    /// 422 `Invalid` for request options that contradict each other.
    public static func invalid(_ message: String) -> Status {
        failure(code: 422, reason: "Invalid", message: message)
    }

    /// 401 for a missing or wrong bearer token and no client certificate.
    public static func unauthorized() -> Status {
        failure(code: 401, reason: "Unauthorized", message: "Unauthorized")
    }

    /// 405 for a verb the fake does not serve on a path.
    public static func methodNotAllowed(_ method: String) -> Status {
        failure(
            code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource (\(method))")
    }

    /// 415 for a PATCH whose `Content-Type` names no patch format the fake applies.
    public static func unsupportedMediaType(_ contentType: String?) -> Status {
        let accepted = FakeAPIPatchType.allCases.map(\.rawValue).joined(separator: ", ")
        let note =
            contentType == "application/apply-patch+yaml"
            ? " (server-side apply is not supported by the fake API server; use client-side `kubectl apply`)" : ""
        return failure(
            code: 415, reason: "UnsupportedMediaType",
            message: "the body of the request was in an unknown format - accepted media types include: \(accepted)\(note)")
    }

    /// An injected failure (`failNext`): 429 `TooManyRequests`, 410 `Expired`, 500
    /// `InternalError`, 503 `ServiceUnavailable`, 504 `Timeout`, otherwise `InternalError` with
    /// the given code.
    public static func injected(code: Int, retryAfter: Int?) -> Status {
        let details = retryAfter.map { StatusDetails(retryAfterSeconds: $0) }
        switch code {
        case 410:
            return failure(code: 410, reason: "Expired", message: "injected failure: the resource version is too old", details: details)
        case 429:
            return failure(code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.", details: details)
        case 503:
            return failure(
                code: 503, reason: "ServiceUnavailable", message: "the server is currently unable to handle the request", details: details)
        case 504:
            return failure(
                code: 504, reason: "Timeout", message: "the server was unable to return a response in the time allotted", details: details)
        default:
            return failure(code: code, reason: "InternalError", message: "Internal error occurred: injected failure", details: details)
        }
    }
}
