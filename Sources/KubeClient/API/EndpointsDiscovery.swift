import Logging

/// Finds out whether the server serves `discovery.k8s.io/v1` (EndpointSlices) or only legacy
/// Endpoints, the way kube-proxy decides: `GET /apis/discovery.k8s.io/v1`.
///
/// `200` → slices; `404` → legacy Endpoints; `401`/`403` → assume slices (every supported
/// server has them; the slice watch will report the real problem). Anything else, or no answer,
/// is retried with backoff until the question is settled.
struct EndpointsDiscovery: Sendable {
    /// The discovery document's path.
    static let path = "/apis/discovery.k8s.io/v1"

    /// Where to ask.
    let transport: any APITransport
    /// The server URL, for error messages (printed with its user info redacted).
    let server: String
    /// What backoff sleeps on.
    let clock: any Clock<Duration>
    /// Monotonic time for the backoff's reset rule.
    let elapsed: @Sendable () -> Duration
    /// Jitter source in `0..<1`.
    let random: @Sendable () -> Double
    /// Receives retries and the outcome.
    let logger: Logger

    /// `true` for legacy Endpoints only, `false` for EndpointSlices, `nil` when cancelled first.
    func legacyEndpointsOnly() async -> Bool? {
        var backoff = Backoff()
        let request = APIRequest(path: Self.path)
        while !Task.isCancelled {
            let problem: APIClientError
            do {
                let response = try await transport.get(request)
                switch response.status {
                case 200:
                    return false
                case 404:
                    logger.info("\(Self.path) is not served; watching legacy Endpoints")
                    return true
                case 401, 403:
                    logger.warning("\(Self.path): \(response.status); assuming EndpointSlices are served")
                    return false
                default:
                    let status = response.decodedStatus
                    problem = status.error(url: request.url(server: ServerURL.redactingUserInfo(server)), fallbackCode: response.status)
                }
            } catch let error as APIClientError {
                problem = error
            } catch {
                problem = .transport(url: request.url(server: ServerURL.redactingUserInfo(server)), message: "\(error)")
            }
            let delay = backoff.next(now: elapsed(), random: random())
            logger.warning("API discovery: \(problem); retrying in \(delay)")
            do {
                try await clock.sleep(for: delay)
            } catch {
                return nil
            }
        }
        return nil
    }
}
