import Logging

/// What a running watcher tells ``APISource``.
enum WatcherMessage: Sendable {
    /// Object changes to emit, in order.
    case events([SourceEvent])
    /// A complete list of `resource` was delivered (the first one counts towards `.synced`).
    case listed(WatchResource)
    /// A list of `resource` failed (for the Node, one attempt is enough for `.synced`).
    case listFailed(WatchResource)
}

/// The thin driver of one ``WatchStateMachine``: performs its LISTs and WATCHes over an
/// ``APITransport``, sleeps its backoffs on the injected clock, feeds watch bytes through a
/// ``JSONLinesFramer``, logs its problems, and passes the changes on as ``WatcherMessage``s.
///
/// Deadlines the transport does not enforce: a LIST must complete within `listTimeout`; a WATCH
/// is abandoned `watchSlack` after its `timeoutSeconds` (the server should have ended it), which
/// counts as a clean end. Runs until its task is cancelled; never throws.
///
/// A watch line above `maximumEventBytes` abandons the stream, frees the framer's buffer and
/// hands the machine ``WatchStateMachine/watchEventTooLarge(limit:now:)`` (backoff, relist); the
/// framer is emptied after every stream, so a long line is not held while the watcher sleeps.
actor ResourceWatcher<Object: APIObject> {
    private let transport: any APITransport
    private let clock: any Clock<Duration>
    private let elapsed: @Sendable () -> Duration
    private let wrap: @Sendable (ObjectChange<Object>) -> SourceEvent
    private let listTimeout: Duration
    private let watchSlack: Duration
    private let logger: Logger
    private var machine: WatchStateMachine<Object>
    private var framer: JSONLinesFramer
    private var interruption: WatchStateMachine<Object>.Step?
    private var send: @Sendable (WatcherMessage) -> Void = { _ in }

    /// Creates a watcher; nothing happens until ``run(send:)``.
    init(
        machine: WatchStateMachine<Object>, transport: any APITransport, clock: any Clock<Duration>,
        elapsed: @escaping @Sendable () -> Duration, listTimeout: Duration = .seconds(120),
        watchSlack: Duration = .seconds(30), maximumEventBytes: Int = APILimits().watchEventBytes, logger: Logger,
        wrap: @escaping @Sendable (ObjectChange<Object>) -> SourceEvent
    ) {
        self.machine = machine
        self.transport = transport
        self.clock = clock
        self.elapsed = elapsed
        self.listTimeout = listTimeout
        self.watchSlack = watchSlack
        self.framer = JSONLinesFramer(maximumLineBytes: maximumEventBytes)
        self.logger = logger
        self.wrap = wrap
    }

    private var resource: WatchResource { machine.resource }

    /// Lists and watches until cancelled, handing messages to `send` in order.
    func run(send: @escaping @Sendable (WatcherMessage) -> Void) async {
        self.send = send
        var step = machine.start()
        while !Task.isCancelled {
            report(step)
            // Delivered: the step would otherwise hold a LIST's changes (every listed object)
            // through the watch that follows, for minutes; at 10k Services that was most of the
            // decoded objects still alive at the first sync's peak.
            step.changes = []
            switch step.action {
            case .list(let request):
                step = await list(request)
            case .watch(let request):
                step = await watch(request)
            case .wait(let delay):
                do {
                    try await clock.sleep(for: delay)
                } catch {
                    return
                }
                step = machine.retry(now: elapsed())
            case .keepReading:
                // Only answered to events that do not fit the machine's state, which this loop
                // never sends; should it happen, start over rather than stop watching.
                logger.error("\(resource): watch state machine got out of step; relisting")
                step = machine.start()
            }
        }
    }

    private func report(_ step: WatchStateMachine<Object>.Step) {
        if let problem = step.problem {
            let metadata: Logger.Metadata = ["resource": "\(resource)"]
            if problem.routine {
                logger.info("\(resource): \(problem)", metadata: metadata)
            } else {
                logger.warning("\(resource): \(problem)", metadata: metadata)
            }
        }
        if step.failedList { send(.listFailed(resource)) }
        if !step.changes.isEmpty { send(.events(step.changes.map(wrap))) }
        if step.completedList {
            logger.debug("\(resource): listed", metadata: ["objects": "\(machine.delivered.count)"])
            send(.listed(resource))
        }
    }

    private func list(_ request: APIRequest) async -> WatchStateMachine<Object>.Step {
        do {
            let transport = self.transport
            let response = try await withDeadline(listTimeout) { try await transport.get(request) }
            return machine.listResponded(response, now: elapsed())
        } catch {
            return machine.listFailed(describe(error, request), now: elapsed())
        }
    }

    private func watch(_ request: APIRequest) async -> WatchStateMachine<Object>.Step {
        framer.reset()
        interruption = nil
        defer { framer.reset() }
        let limit = Duration.seconds(Int(request["timeoutSeconds"] ?? "") ?? 600) + watchSlack
        let response: APIResponse
        do {
            let transport = self.transport
            response = try await withDeadline(limit) {
                try await transport.watch(request) { chunk in try await self.receive(chunk) }
            }
        } catch {
            if let interruption { return interruption }
            if error is DeadlineExceeded {
                return machine.watchEnded(APIResponse(status: 200), truncated: false, now: elapsed())
            }
            return machine.watchFailed(describe(error, request), now: elapsed())
        }
        return machine.watchEnded(response, truncated: framer.hasPartialLine, now: elapsed())
    }

    /// One chunk of the watch body: frame it, feed the lines, deliver changes as they come;
    /// stop the stream (by throwing) when the machine wants something else.
    private func receive(_ chunk: [UInt8]) throws {
        let lines: [[UInt8]]
        do {
            lines = try framer.append(chunk)
        } catch {
            interruption = machine.watchEventTooLarge(limit: error.limit, now: elapsed())
            throw WatchInterrupted()
        }
        for line in lines {
            let step = machine.watchLine(line, now: elapsed())
            guard case .keepReading = step.action else {
                interruption = step
                throw WatchInterrupted()
            }
            report(step)
        }
    }

    private func describe(_ error: any Error, _ request: APIRequest) -> APIClientError {
        if let error = error as? APIClientError { return error }
        let url = request.url(server: machine.server)  // redacted by the machine
        if error is DeadlineExceeded {
            return .transport(url: url, message: "no complete response within \(listTimeout)")
        }
        return .transport(url: url, message: "\(error)")
    }

    /// Runs `operation`, cancelling it after `limit` on the injected clock.
    private func withDeadline<T: Sendable>(
        _ limit: Duration, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let clock = self.clock
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await clock.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw DeadlineExceeded() }
            return value
        }
    }
}

/// The machine asked to abandon the watch stream (an `ERROR` event, an undecodable line).
private struct WatchInterrupted: Error {}

/// A list or watch ran past its client-side deadline.
private struct DeadlineExceeded: Error {}
