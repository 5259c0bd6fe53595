import NIOCore
import NIOHTTP1

/// The options of one WATCH request.
struct FakeAPIWatchOptions: Sendable {
    /// Namespace and selectors.
    var filter: FakeAPIFilter
    /// `resourceVersion`, verbatim (`nil` when absent).
    var resourceVersion: String?
    /// `allowWatchBookmarks=true`.
    var allowBookmarks: Bool
    /// `sendInitialEvents=true` (a streaming list).
    var sendInitialEvents: Bool
    /// `timeoutSeconds`, or the server's default.
    var timeout: Duration
}

/// One open watch response: the chunked body of a 200 on one connection.
///
/// Everything that writes to the body runs on the connection's event loop, in the order it was
/// enqueued; the server enqueues while holding its lock, so events reach every stream in
/// resourceVersion order and a bookmark never overtakes an event it covers. After `finish`
/// or `abort` nothing more is written.
final class FakeAPIWatchStream: @unchecked Sendable {
    /// Registry id.
    let id: Int
    /// What the client asked for.
    let options: FakeAPIWatchOptions
    /// The connection.
    let channel: any Channel
    private let keepAlive: Bool
    private let chunkSize: Int?
    // Confined to `channel.eventLoop`.
    private var finished = false
    private var deadline: Scheduled<Void>?
    private var bookmarkTask: RepeatedTask?

    /// A stream on `channel`; `chunkSize` re-chunks the body into pieces of that many bytes
    /// (splitting events across chunks) to exercise a client's framing.
    init(id: Int, options: FakeAPIWatchOptions, channel: any Channel, keepAlive: Bool, chunkSize: Int?) {
        self.id = id
        self.options = options
        self.channel = channel
        self.keepAlive = keepAlive
        self.chunkSize = chunkSize
    }

    /// Writes the 200 head and arms the deadline and bookmark timers. Call on the event loop.
    func begin(server: FakeAPIServer, bookmarkInterval: Duration) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Cache-Control", value: "no-cache, private")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)), promise: nil)
        deadline = channel.eventLoop.scheduleTask(in: TimeAmount(options.timeout)) { [self] in
            server.watchReachedDeadline(self)
        }
        if options.allowBookmarks {
            let interval = TimeAmount(bookmarkInterval)
            bookmarkTask = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
                server.sendBookmark(to: self)
            }
        }
    }

    /// Enqueues `events` as body data.
    func send(_ events: [FakeAPIWatchEvent]) {
        guard !events.isEmpty else { return }
        let lines = events.map { $0.encodedLine() }
        channel.eventLoop.execute { [self] in
            guard !finished else { return }
            write(lines)
            channel.flush()
        }
    }

    /// Enqueues `events`, then the end of the body (a clean end of the watch).
    func finish(with events: [FakeAPIWatchEvent] = [], closeConnection: Bool = false) {
        let lines = events.map { $0.encodedLine() }
        channel.eventLoop.execute { [self] in
            guard !finished else { return }
            stopTimers()
            write(lines)
            let channel = self.channel
            let close = closeConnection || !keepAlive
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
                if close { FakeAPIConnectionFront.close(channel, abortive: false) }
            }
        }
    }

    /// Stops writing because the connection is gone (closed by the client or dropped).
    func connectionClosed() {
        channel.eventLoop.execute { [self] in stopTimers() }
    }

    private func stopTimers() {
        finished = true
        deadline?.cancel()
        deadline = nil
        bookmarkTask?.cancel()
        bookmarkTask = nil
    }

    /// Writes one chunk per event, as the real server flushes after each, or fixed-size chunks
    /// when `chunkSize` is set.
    private func write(_ lines: [[UInt8]]) {
        guard let chunkSize else {
            for line in lines {
                channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: line))), promise: nil)
            }
            return
        }
        let bytes = lines.flatMap { $0 }
        let size = max(1, chunkSize)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + size)
            let buffer = channel.allocator.buffer(bytes: bytes[offset..<end])
            channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
            offset = end
        }
    }
}
