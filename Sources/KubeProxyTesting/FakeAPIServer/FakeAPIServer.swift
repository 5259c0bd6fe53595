import Foundation
import KubeAPI
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A Kubernetes API server for tests, with the list/watch semantics a client must survive:
/// a global resourceVersion, LIST paging with continue tokens, WATCH replay from a
/// resourceVersion, bookmarks, 410 Expired once history is compacted, `timeoutSeconds`,
/// `Status` errors, bearer-token and client-certificate authentication over TLS, RBAC for
/// service-account tokens (``FakeAPIAuthorization``, 403 `Forbidden` outside the policy), and fault
/// injection (dropped connections, clean ends, ERROR 410, 429/500, stalls).
///
/// It serves `services`, `endpoints`, `nodes` (core `v1`) and `endpointslices`
/// (`discovery.k8s.io/v1`), plus discovery, `/version` and the OpenAPI v3 documents, well
/// enough for `kubectl get … -w`, `apply`, `patch` and `edit` (see `docs/fake-apiserver.md`).
/// Faults are also reachable over HTTP (``FakeAPIFault``, `/fake/faults`).
/// Tests change objects through the Swift API (`create`, `update`, `delete`), which is
/// thread-safe and delivers watch events before it returns their enqueueing.
///
/// Start with ``start(host:port:tls:token:authorization:configuration:)``, stop with ``shutdown()``.
public final class FakeAPIServer: Sendable {
    /// Tuning of the semantics; defaults follow kube-apiserver where it has one.
    public struct Configuration: Sendable {
        /// How many changes the history keeps for watch replay and exact LISTs (the "watch
        /// cache window"); older resourceVersions get 410 Expired.
        public var historyLimit: Int
        /// The resourceVersion before the first change (the first object gets this + 1).
        public var initialResourceVersion: Int
        /// How often a watch that allows bookmarks gets one (the real server: about a minute).
        public var bookmarkInterval: Duration
        /// The watch duration when the client sends no `timeoutSeconds`.
        public var defaultWatchTimeout: Duration
        /// Whether a watch that reaches its deadline ends with a BOOKMARK (when allowed), like
        /// the real server's bookmark shortly before the deadline.
        public var bookmarkBeforeDeadline: Bool
        /// How a watch from a compacted resourceVersion fails: as an ERROR event in a 200
        /// stream (the watch cache, the default) or as an HTTP 410 before any stream.
        public var tooOldWatch: TooOldWatchResponse
        /// When set, watch bodies are cut into chunks of this many bytes regardless of event
        /// boundaries, to test a client's framing; by default each event is one chunk.
        public var watchChunkSize: Int?

        /// The two ways a server reports a watch from a compacted resourceVersion.
        public enum TooOldWatchResponse: Sendable {
            /// 200, then `{"type":"ERROR","object":{…"code":410}}`, then the end of the stream.
            case errorEvent
            /// HTTP 410 with a `Status` body.
            case httpStatus
        }

        /// Creates a configuration.
        public init(
            historyLimit: Int = 1000, initialResourceVersion: Int = 1000, bookmarkInterval: Duration = .seconds(60),
            defaultWatchTimeout: Duration = .seconds(1800), bookmarkBeforeDeadline: Bool = true,
            tooOldWatch: TooOldWatchResponse = .errorEvent, watchChunkSize: Int? = nil
        ) {
            self.historyLimit = historyLimit
            self.initialResourceVersion = initialResourceVersion
            self.bookmarkInterval = bookmarkInterval
            self.defaultWatchTimeout = defaultWatchTimeout
            self.bookmarkBeforeDeadline = bookmarkBeforeDeadline
            self.tooOldWatch = tooOldWatch
            self.watchChunkSize = watchChunkSize
        }
    }

    /// Everything mutable, behind one lock: the store, the open watches (for fan-out), the
    /// connections (for faults and shutdown), injected faults and the request log.
    struct State {
        var store: FakeAPIStore
        var watches: [Int: FakeAPIWatchStream] = [:]
        var connections: [ObjectIdentifier: any Channel] = [:]
        var nextWatchID = 1
        var failures: (remaining: Int, code: Int, retryAfter: Int?) = (0, 500, nil)
        var stalledUntil: NIODeadline?
        var requestLog: [FakeAPIRequestRecord] = []
        var forbidden: [FakeAPIForbiddenRequest] = []
        var port = 0
    }

    /// The semantics in force.
    public let configuration: Configuration
    /// The address the server listens on.
    public let host: String
    /// The TLS setup, or `nil` for plain HTTP.
    public let tls: FakeAPITLS?
    /// The bearer token required, or `nil` to allow anonymous requests.
    public let token: String?
    /// Service-account tokens and the RBAC policy enforced for them, or `nil` for none.
    public let authorization: FakeAPIAuthorization?
    /// The lock-protected state; every access is short and never awaits.
    let state: Mutex<State>
    private let listener: Mutex<(any Channel)?> = Mutex(nil)

    /// Requests kept in ``requests``; older ones are forgotten so a long-running demo server
    /// stays small.
    static let requestLogLimit = 10_000

    private init(host: String, tls: FakeAPITLS?, token: String?, authorization: FakeAPIAuthorization?, configuration: Configuration) {
        self.host = host
        self.tls = tls
        self.token = token
        self.authorization = authorization
        self.configuration = configuration
        state = Mutex(
            State(
                store: FakeAPIStore(
                    initialResourceVersion: configuration.initialResourceVersion, historyLimit: configuration.historyLimit
                )))
    }

    /// Starts a server on `host:port` (port 0 picks a free one).
    ///
    /// - Parameters:
    ///   - tls: serve HTTPS with these certificates; `nil` serves plain HTTP.
    ///   - token: require `Authorization: Bearer <token>` (a verified client certificate also
    ///     authenticates, as on a real server); `nil` allows anonymous requests unless
    ///     `authorization` is given. Both authenticate an administrator.
    ///   - authorization: service-account tokens whose requests RBAC authorizes; with it,
    ///     anonymous requests are refused.
    /// - Throws: bind errors, or NIOSSL errors for unreadable certificates.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, tls: FakeAPITLS? = nil, token: String? = nil,
        authorization: FakeAPIAuthorization? = nil, configuration: Configuration = Configuration()
    ) async throws -> FakeAPIServer {
        let server = FakeAPIServer(host: host, tls: tls, token: token, authorization: authorization, configuration: configuration)
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0.serverConfiguration()) }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(FakeAPIConnectionFront())
                    if let sslContext { try pipeline.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(FakeAPIHTTPHandler(server: server))
                    server.connectionOpened(channel)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        server.listener.withLock { $0 = channel }
        server.state.withLock { $0.port = channel.localAddress?.port ?? port }
        return server
    }

    /// The port the server listens on.
    public var port: Int { state.withLock { $0.port } }

    /// `https://127.0.0.1:PORT` (or `http://…` without TLS); IPv6 hosts are bracketed.
    public var url: String {
        let scheme = tls == nil ? "http" : "https"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)"
    }

    /// Stops listening, ends every watch cleanly and closes every connection.
    public func shutdown() async {
        let channel = listener.withLock { channel -> (any Channel)? in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
        let (watches, connections) = state.withLock { state in
            defer { state.watches = [:] }
            return (Array(state.watches.values), Array(state.connections.values))
        }
        for watch in watches { watch.finish(closeConnection: true) }
        for connection in connections { FakeAPIConnectionFront.close(connection, abortive: false) }
        for connection in connections { try? await connection.closeFuture.get() }
    }

    // MARK: Connection and watch bookkeeping (called by the handlers)

    /// Tracks a new connection until it closes, for `dropConnections` and `shutdown`.
    func connectionOpened(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.connections[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
    }

    /// Appends `request` to the bounded request log.
    func record(_ request: FakeAPIRequest) {
        let record = FakeAPIRequestRecord(
            method: request.method, path: request.path, query: request.query, isWatch: request.isWatch,
            authorization: request.authorization)
        state.withLock { state in
            state.requestLog.append(record)
            if state.requestLog.count > Self.requestLogLimit { state.requestLog.removeFirst(state.requestLog.count - Self.requestLogLimit) }
        }
    }

    /// The end of the current `stall`, if one was set.
    func stalledUntil() -> NIODeadline? {
        state.withLock { $0.stalledUntil }
    }

    /// A stream with a fresh id for a watch on `channel`.
    func makeWatchStream(options: FakeAPIWatchOptions, channel: any Channel, keepAlive: Bool) -> FakeAPIWatchStream {
        let id = state.withLock { state in
            defer { state.nextWatchID += 1 }
            return state.nextWatchID
        }
        return FakeAPIWatchStream(id: id, options: options, channel: channel, keepAlive: keepAlive, chunkSize: configuration.watchChunkSize)
    }

    /// Writes the head, then (under the lock, so no change slips between) the initial events
    /// and the registration for live ones; a start that fails (410, 504) ends the stream after
    /// its ERROR event.
    func startWatch(_ stream: FakeAPIWatchStream) {
        stream.begin(server: self, bookmarkInterval: configuration.bookmarkInterval)
        state.withLock { state in
            switch Self.initialEvents(for: stream.options, store: state.store) {
            case .success(let events):
                state.watches[stream.id] = stream
                stream.send(events)
            case .failure(let status):
                stream.finish(with: [.error(status)])
            }
        }
    }

    /// Sends a BOOKMARK at the latest resourceVersion to a still-registered stream.
    func sendBookmark(to stream: FakeAPIWatchStream) {
        state.withLock { state in
            guard state.watches[stream.id] != nil else { return }
            stream.send([.bookmark(stream.options.filter.resource, resourceVersion: state.store.resourceVersion, initialEventsEnd: false)])
        }
    }

    /// Ends a stream at its `timeoutSeconds`, after a last bookmark when configured and allowed.
    func watchReachedDeadline(_ stream: FakeAPIWatchStream) {
        state.withLock { state in
            guard state.watches.removeValue(forKey: stream.id) != nil else { return }
            let final: [FakeAPIWatchEvent] =
                configuration.bookmarkBeforeDeadline && stream.options.allowBookmarks
                ? [.bookmark(stream.options.filter.resource, resourceVersion: state.store.resourceVersion, initialEventsEnd: false)]
                : []
            stream.finish(with: final)
        }
    }

    /// Forgets a stream whose connection went away.
    func watchConnectionClosed(_ stream: FakeAPIWatchStream) {
        _ = state.withLock { $0.watches.removeValue(forKey: stream.id) }
        stream.connectionClosed()
    }

    /// Delivers a committed change to every watch that sees it. Call with the lock held.
    static func fanOut(_ change: FakeAPIChange, to watches: [Int: FakeAPIWatchStream]) {
        for stream in watches.values.sorted(by: { $0.id < $1.id }) {
            if let event = stream.options.filter.event(for: change) { stream.send([event]) }
        }
    }
}
