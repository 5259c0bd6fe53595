import NIOCore

/// What the responder tells the connection timer, as outbound user events (they travel from the
/// responder towards the socket, past `HTTPConnectionTimer`, which sits first in the pipeline).
enum HTTPConnectionEvent: Sendable {
    /// A request was received completely; its response is being written.
    case requestReceived
    /// A response was written to the socket.
    case responseSent
}

/// The deadlines of one observability connection (`HTTPServerLimits`):
///
/// - the first request must arrive completely within `requestTimeout` of the connection opening;
/// - a later request within `requestTimeout` of its first byte, which must come within
///   `idleTimeout` of the previous response;
/// - each response must be written within `requestTimeout` (a client that does not read).
///
/// The connection is closed when the current deadline passes. Events carry `now` so the
/// machine is pure.
struct HTTPConnectionTimerStateMachine {
    private enum State {
        /// No request is being answered; `started`: bytes of the next one arrived.
        case reading(deadline: NIODeadline, started: Bool)
        /// `pending` responses are being written; `nextStarted`: bytes of another request arrived.
        case responding(pending: Int, deadline: NIODeadline, nextStarted: Bool)
        case expired
    }

    /// What the handler does after an event.
    enum Action: Equatable {
        /// Make sure a timer fires at this deadline (the current one may stay if equal).
        case schedule(NIODeadline)
        /// The deadline passed: close the connection.
        case close
    }

    private let limits: HTTPServerLimits
    private var state: State
    private var isFirstRequest = true

    /// A connection opened at `now`.
    init(limits: HTTPServerLimits, now: NIODeadline) {
        self.limits = limits
        self.state = .reading(deadline: now + limits.requestTimeout, started: false)
    }

    /// The deadline in force (nil once expired).
    var deadline: NIODeadline? {
        switch state {
        case .reading(let deadline, _), .responding(_, let deadline, _): return deadline
        case .expired: return nil
        }
    }

    /// Bytes arrived from the client.
    mutating func bytesReceived(now: NIODeadline) -> Action {
        switch state {
        case .reading(let deadline, started: false):
            // The first request's clock runs from the opening; a later one's from its first byte.
            let next = isFirstRequest ? deadline : now + limits.requestTimeout
            state = .reading(deadline: next, started: true)
        case .responding(let pending, let deadline, nextStarted: false):
            state = .responding(pending: pending, deadline: deadline, nextStarted: true)
        case .reading, .responding, .expired: break
        }
        return current()
    }

    /// A request was received completely.
    mutating func requestReceived(now: NIODeadline) -> Action {
        isFirstRequest = false
        switch state {
        case .reading:
            state = .responding(pending: 1, deadline: now + limits.requestTimeout, nextStarted: false)
        case .responding(let pending, _, _):
            // Pipelined: NIO's pipeline handler delivers the next request as the previous
            // response ends; bytes already seen belonged to this one.
            state = .responding(pending: pending + 1, deadline: now + limits.requestTimeout, nextStarted: false)
        case .expired: break
        }
        return current()
    }

    /// A response was written.
    mutating func responseSent(now: NIODeadline) -> Action {
        guard case .responding(let pending, _, let nextStarted) = state else { return current() }
        if pending > 1 {
            state = .responding(pending: pending - 1, deadline: now + limits.requestTimeout, nextStarted: nextStarted)
        } else if nextStarted {
            state = .reading(deadline: now + limits.requestTimeout, started: true)
        } else {
            state = .reading(deadline: now + limits.idleTimeout, started: false)
        }
        return current()
    }

    /// The timer fired at `now`.
    mutating func timerFired(now: NIODeadline) -> Action {
        if let deadline, now >= deadline { state = .expired }
        return current()
    }

    private func current() -> Action {
        deadline.map(Action.schedule) ?? .close
    }
}

/// Carries out `HTTPConnectionTimerStateMachine` on one connection: the first handler of the
/// pipeline, so it sees every inbound byte before HTTP parsing and every event of the
/// responder; one scheduled task at the current deadline.
final class HTTPConnectionTimer: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let limits: HTTPServerLimits
    private var machine: HTTPConnectionTimerStateMachine?
    private var timer: (deadline: NIODeadline, task: Scheduled<Void>)?

    /// A timer enforcing `limits`.
    init(limits: HTTPServerLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if machine != nil { apply(machine!.bytesReceived(now: .now()), context: context) }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let event = event as? HTTPConnectionEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if machine != nil {
            switch event {
            case .requestReceived: apply(machine!.requestReceived(now: .now()), context: context)
            case .responseSent: apply(machine!.responseSent(now: .now()), context: context)
            }
        }
        promise?.succeed()
    }

    private func start(context: ChannelHandlerContext) {
        guard machine == nil else { return }
        machine = HTTPConnectionTimerStateMachine(limits: limits, now: .now())
        apply(.schedule(machine!.deadline!), context: context)
    }

    private func apply(_ action: HTTPConnectionTimerStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .close:
            timer?.task.cancel()
            timer = nil
            context.close(promise: nil)
        case .schedule(let deadline):
            if let timer, timer.deadline == deadline { return }
            timer?.task.cancel()
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let task = context.eventLoop.scheduleTask(deadline: deadline) {
                let (handler, context) = loopBound.value
                handler.timer = nil
                guard handler.machine != nil else { return }
                handler.apply(handler.machine!.timerFired(now: .now()), context: context)
            }
            timer = (deadline, task)
        }
    }
}

@available(*, unavailable)
extension HTTPConnectionTimer: Sendable {}
