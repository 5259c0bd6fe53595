import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// When a listening socket accepts: at most `maxConnections` open connections, and a growing
/// pause after an accept error (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`).
///
/// Why our own and not NIO's `AcceptBackoffHandler`: `ServerBootstrap.bind(to:)` (the
/// future-based API) does not install it at all (only the async `bind` variants do), and even
/// installed it cannot stop the loop: after a failed `accept` NIO keeps the read pending and the
/// listening socket registered for readability, while the pending connection keeps it
/// readable, so epoll wakes the loop at once, again and again (78k `accept4 = EMFILE` in 4 s).
/// The only lever that unregisters the socket is `autoRead = false`, which this gate turns off
/// while paused and back on afterwards.
struct AcceptGateStateMachine {
    /// What to do with a connection just accepted.
    enum AcceptAction: Equatable {
        /// Serve it; `pause` when it was the last one allowed.
        case serve(pause: Bool)
        /// Close it at once: it was accepted in the same burst after the limit was reached.
        case reject
    }

    /// Whether to change accepting.
    enum FlowAction: Equatable {
        case none
        /// Stop accepting (`autoRead` off).
        case pause
        /// Accept again (`autoRead` on).
        case resume
        /// Stop accepting and call `backoffElapsed()` after the delay.
        case pauseAndRetry(after: TimeAmount)
    }

    private let limits: HTTPServerLimits
    /// Connections currently open.
    private(set) var openConnections = 0
    /// Accept errors since the last successful accept (for the back-off and for logs).
    private(set) var consecutiveFailures = 0
    private var backingOff = false
    private var accepting = true

    /// A gate for a server with `limits`; it starts accepting.
    init(limits: HTTPServerLimits) {
        self.limits = limits
    }

    /// A connection was accepted.
    mutating func accepted() -> AcceptAction {
        consecutiveFailures = 0
        guard openConnections < limits.maxConnections else { return .reject }
        openConnections += 1
        return .serve(pause: update() == .pause)
    }

    /// A served connection closed.
    mutating func closed() -> FlowAction {
        openConnections = max(0, openConnections - 1)
        return update()
    }

    /// `accept` failed with a resource error: pause for the current back-off, then double it.
    mutating func acceptFailed() -> FlowAction {
        consecutiveFailures += 1
        guard !backingOff else { return .none }
        backingOff = true
        accepting = false
        var delay = limits.acceptBackoff
        for _ in 1..<min(consecutiveFailures, 32) {
            delay = delay + delay
            if delay >= limits.maximumAcceptBackoff { break }
        }
        return .pauseAndRetry(after: min(delay, limits.maximumAcceptBackoff))
    }

    /// The back-off pause is over.
    mutating func backoffElapsed() -> FlowAction {
        backingOff = false
        return update()
    }

    /// Whether an accept error is one to back off from (the process or system is out of
    /// descriptors or memory); other errors concern one connection only.
    static func isResourceExhaustion(_ error: any Error) -> Bool {
        guard let io = error as? IOError else { return false }
        return [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(io.errnoCode)
    }

    private mutating func update() -> FlowAction {
        let shouldAccept = !backingOff && openConnections < limits.maxConnections
        guard shouldAccept != accepting else { return .none }
        accepting = shouldAccept
        return shouldAccept ? .resume : .pause
    }
}

/// The server-channel handler that carries out `AcceptGateStateMachine`: counts accepted
/// connections until they close, closes the few accepted past the limit in one read burst, and
/// switches `autoRead` on the listening channel.
final class AcceptGate: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private var state: AcceptGateStateMachine
    private let server: String
    private let logger: Logger
    private var retry: Scheduled<Void>?

    /// A gate for the server named `server` (for logs).
    init(limits: HTTPServerLimits, server: String, logger: Logger) {
        self.state = AcceptGateStateMachine(limits: limits)
        self.server = server
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = unwrapInboundIn(data)
        switch state.accepted() {
        case .reject:
            connection.close(promise: nil)
            return
        case .serve(let pause):
            if pause { setAccepting(false, context: context) }
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        connection.closeFuture.whenComplete { [eventLoop = context.eventLoop] _ in
            eventLoop.execute {
                let (gate, context) = loopBound.value
                gate.perform(gate.state.closed(), context: context)
            }
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard AcceptGateStateMachine.isResourceExhaustion(error) else {
            context.fireErrorCaught(error)
            return
        }
        let action = state.acceptFailed()
        let failures = state.consecutiveFailures
        // First failure of an episode and then every power of ten: visible, never a flood.
        if failures == 1 || failures == 10 || failures == 100 || failures % 1000 == 0 {
            logger.warning(
                "\(server): cannot accept connections; pausing",
                metadata: [
                    "error": "\(error)", "failures": "\(failures)",
                    "openConnections": "\(state.openConnections)",
                ])
        }
        perform(action, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        retry?.cancel()
        retry = nil
        context.fireChannelInactive()
    }

    private func perform(_ action: AcceptGateStateMachine.FlowAction, context: ChannelHandlerContext) {
        switch action {
        case .none: break
        case .pause: setAccepting(false, context: context)
        case .resume: setAccepting(true, context: context)
        case .pauseAndRetry(let delay):
            setAccepting(false, context: context)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            retry = context.eventLoop.scheduleTask(in: delay) {
                let (gate, context) = loopBound.value
                gate.retry = nil
                gate.perform(gate.state.backoffElapsed(), context: context)
            }
        }
    }

    private func setAccepting(_ accepting: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let options = context.channel.syncOptions {
            try? options.setOption(.autoRead, value: accepting)
        } else {
            context.channel.setOption(.autoRead, value: accepting).whenFailure { _ in }
        }
    }
}

@available(*, unavailable)
extension AcceptGate: Sendable {}
