/// The one edge between the list/watch logic and the network: plain GETs and streamed watches.
///
/// Why a protocol: the watch state machine and its driver are tested against a scripted fake
/// that replays exact byte streams, status codes and failures, while production uses
/// ``HTTPTransport`` on AsyncHTTPClient. Implementations add authentication, `Accept` and
/// `User-Agent` headers themselves; callers only say what to fetch.
protocol APITransport: Sendable {
    /// Performs a GET and returns the whole response.
    ///
    /// - Throws: when no response arrived (connection refused, TLS failure, reset).
    func get(_ request: APIRequest) async throws -> APIResponse

    /// Opens a watch. For a `200` it hands every body chunk to `receive` as it arrives (chunks
    /// may split events anywhere) and returns the `200` response, with an empty body, when the
    /// server ends the stream cleanly. For any other status it returns the response with its
    /// whole body and never calls `receive`.
    ///
    /// - Throws: when the connection fails before or during the stream, or whatever `receive`
    ///   throws (which abandons the stream).
    func watch(
        _ request: APIRequest, receive: @Sendable ([UInt8]) async throws -> Void
    ) async throws -> APIResponse
}
