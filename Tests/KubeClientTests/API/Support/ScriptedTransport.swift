import Foundation
import Synchronization

@testable import KubeClient

/// An ``APITransport`` that replays scripted answers per path, separately for GETs and watches,
/// and records every request. A request with nothing scripted hangs until cancelled, like a
/// quiet watch or an unreachable server.
final class ScriptedTransport: APITransport {
    /// How a scripted watch stream ends.
    enum StreamEnd: Sendable {
        /// The server ends the body (timeout).
        case clean
        /// The connection breaks.
        case failure(String)
        /// The stream stays open until cancelled.
        case hang
    }

    /// One scripted answer.
    enum Reply: Sendable {
        /// A whole response (for a watch: a non-200 answer).
        case response(APIResponse)
        /// A 200 watch stream delivering these chunks, then ending as told.
        case stream([[UInt8]], end: StreamEnd)
        /// No answer: the connection fails.
        case failure(String)
        /// The transport itself throws this (a body above its size limit, say).
        case error(APIClientError)
    }

    private struct Key: Hashable {
        var path: String
        var watch: Bool
    }

    private struct State {
        var replies: [Key: [Reply]] = [:]
        var requests: [APIRequest] = []
    }

    private let state = Mutex(State())

    /// Every request so far, in order.
    var requests: [APIRequest] { state.withLock { $0.requests } }

    /// Queues answers for GETs of `path`.
    func onGet(_ path: String, _ replies: Reply...) {
        state.withLock { $0.replies[Key(path: path, watch: false), default: []] += replies }
    }

    /// Queues answers for watches of `path`.
    func onWatch(_ path: String, _ replies: Reply...) {
        state.withLock { $0.replies[Key(path: path, watch: true), default: []] += replies }
    }

    /// The requests made for `path` (lists and watches).
    func requests(for path: String) -> [APIRequest] {
        requests.filter { $0.path == path }
    }

    /// Waits (up to `deadline` of real time) until `count` requests for `path` were made.
    func waitForRequests(_ path: String, count: Int, within deadline: Duration = .seconds(10)) async -> [APIRequest] {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        while requests(for: path).count < count, clock.now < end {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return requests(for: path)
    }

    func get(_ request: APIRequest) async throws -> APIResponse {
        switch try await next(request, watch: false) {
        case .response(let response): return response
        case .failure(let message): throw ScriptedFailure(message: message)
        case .error(let error): throw error
        case .stream: throw ScriptedFailure(message: "a stream scripted for a GET")
        }
    }

    func watch(_ request: APIRequest, receive: @Sendable ([UInt8]) async throws -> Void) async throws -> APIResponse {
        switch try await next(request, watch: true) {
        case .response(let response):
            return response
        case .failure(let message):
            throw ScriptedFailure(message: message)
        case .error(let error):
            throw error
        case .stream(let chunks, let end):
            for chunk in chunks { try await receive(chunk) }
            switch end {
            case .clean: return APIResponse(status: 200)
            case .failure(let message): throw ScriptedFailure(message: message)
            case .hang: try await hang()
            }
            return APIResponse(status: 200)
        }
    }

    private func next(_ request: APIRequest, watch: Bool) async throws -> Reply {
        let reply = state.withLock { state -> Reply? in
            state.requests.append(request)
            let key = Key(path: request.path, watch: watch)
            guard var queue = state.replies[key], !queue.isEmpty else { return nil }
            let reply = queue.removeFirst()
            state.replies[key] = queue
            return reply
        }
        guard let reply else {
            try await hang()
            throw CancellationError()
        }
        return reply
    }

    private func hang() async throws {
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

/// A scripted connection failure.
struct ScriptedFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
