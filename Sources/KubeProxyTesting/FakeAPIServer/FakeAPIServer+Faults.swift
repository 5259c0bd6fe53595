import KubeAPI
import NIOCore

/// Fault injection and request accounting: what a client's retry, relist and backoff paths
/// need to be exercised against.
extension FakeAPIServer {
    /// Closes every open connection abruptly (TCP RST, no TLS `close_notify`, no terminating
    /// chunk): watches end mid-stream and idle keep-alive connections die, as when the API
    /// server crashes or the network drops.
    public func dropConnections() {
        let connections = state.withLock { state in
            defer { state.watches = [:] }
            return Array(state.connections.values)
        }
        for connection in connections { FakeAPIConnectionFront.close(connection, abortive: true) }
    }

    /// Ends every open watch cleanly (the terminating chunk, connection kept alive), as the
    /// server does at a watch's deadline or when its storage watch ends. Clients must re-watch
    /// from their last resourceVersion without relisting.
    public func endWatches() {
        state.withLock { state in
            for stream in state.watches.values { stream.finish() }
            state.watches = [:]
        }
    }

    /// Sends every open watch `{"type":"ERROR","object":<410 Expired Status>}` and ends it, as
    /// the watch cache does when a watcher falls out of its window. Clients must relist.
    public func sendGoneToWatches() {
        state.withLock { state in
            let status = FakeAPIStatus.tooOldResourceVersion(
                requested: state.store.compactedResourceVersion, oldest: state.store.resourceVersion)
            for stream in state.watches.values { stream.finish(with: [.error(status)]) }
            state.watches = [:]
        }
    }

    /// Makes the next `count` requests for API objects (LIST, GET, WATCH, writes; not discovery
    /// or health) fail with `status` (429 `TooManyRequests`, 500 `InternalError`, 503, 504) and
    /// a `Status` body; `retryAfter` adds a `Retry-After` header and `retryAfterSeconds`.
    public func failNext(_ count: Int, status: Int = 500, retryAfter: Int? = nil) {
        state.withLock { $0.failures = (max(0, count), status, retryAfter) }
    }

    /// Accepts requests but answers none that arrive during the next `duration`; they are
    /// answered when it is over (a client with a shorter timeout gives up first). Open watches
    /// are not affected.
    public func stall(for duration: Duration) {
        state.withLock { $0.stalledUntil = .now() + TimeAmount(duration) }
    }

    /// The requests RBAC refused (``FakeAPIAuthorization``), oldest first, bounded like ``requests``.
    public var forbiddenRequests: [FakeAPIForbiddenRequest] {
        state.withLock { $0.forbidden }
    }

    /// Every request received so far (the latest 10,000), in arrival order.
    public var requests: [FakeAPIRequestRecord] {
        state.withLock { $0.requestLog }
    }

    /// How many requests were made for `path` (without query), optionally only watches
    /// (`watch: true`) or only non-watches (`watch: false`).
    public func requestCount(path: String, watch: Bool? = nil) -> Int {
        state.withLock { state in
            state.requestLog.filter { $0.path == path && (watch == nil || $0.isWatch == watch) }.count
        }
    }

    /// Forgets the recorded requests.
    public func resetRequestLog() {
        state.withLock { $0.requestLog = [] }
    }

    /// How many watches are open (registered for live events) right now.
    public var openWatchCount: Int {
        state.withLock { $0.watches.count }
    }

    /// Waits until at least `count` watches on `resource` (any, when `nil`) are open; `false`
    /// on timeout. Lets a test change objects only once its client is watching.
    public func waitForWatches(
        _ count: Int = 1, on resource: FakeAPIResource? = nil, timeout: Duration = .seconds(5)
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let open = state.withLock { state in
                state.watches.values.filter { resource == nil || $0.options.filter.resource == resource }.count
            }
            if open >= count { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}
