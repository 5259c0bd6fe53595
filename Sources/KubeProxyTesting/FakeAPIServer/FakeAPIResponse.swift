import KubeAPI

/// A complete (non-streaming) response.
struct FakeAPIResponse: Sendable {
    /// HTTP status code.
    var code: Int
    /// `Content-Type`.
    var contentType: String
    /// The body.
    var body: [UInt8]
    /// Extra headers (e.g. `Retry-After`).
    var headers: [(String, String)] = []

    /// A `Status` body with the status's code.
    static func status(_ status: Status, headers: [(String, String)] = []) -> FakeAPIResponse {
        FakeAPIResponse(code: status.code ?? 500, contentType: "application/json", body: FakeAPIJSON.encode(status), headers: headers)
    }

    /// A JSON body with code 200 (or `code`).
    static func json(_ body: [UInt8], code: Int = 200) -> FakeAPIResponse {
        FakeAPIResponse(code: code, contentType: "application/json", body: body)
    }
}

/// What the dispatcher decided.
enum FakeAPIDispatch: Sendable {
    /// Write this response.
    case complete(FakeAPIResponse)
    /// Write this response, then run the action (a fault that would otherwise cut the
    /// response short, such as dropping every connection).
    case completeThen(FakeAPIResponse, @Sendable () -> Void)
    /// Start a watch stream.
    case watch(FakeAPIWatchOptions)
}
