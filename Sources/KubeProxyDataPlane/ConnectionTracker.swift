import NIOCore

/// Remembers every open relayed channel so `UserspaceProxy.shutdown` can wait for them to finish
/// (drain) and then close the rest.
///
/// Connections outlive their listener (docs/userspace-behaviour.md#tcp-changes), so no listener can own them. The set is confined
/// to one event loop; channels register themselves and drop out when their close future fires.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var isClosed = false
        /// A drain in progress: completed with `true` when the set empties, `false` at its timeout.
        var drainWaiter: EventLoopPromise<Bool>?
        var drainTimer: Scheduled<Void>?

        /// Ends a drain in progress with `drained`.
        mutating func finishDrain(_ drained: Bool) {
            drainTimer?.cancel()
            drainTimer = nil
            drainWaiter?.succeed(drained)
            drainWaiter = nil
        }
    }

    private let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<State>

    /// Creates an empty tracker owned by `eventLoop`.
    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.state = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    /// Tracks `channel` until it closes; after `closeAll` the channel is closed at once instead.
    func register(_ channel: any Channel) {
        eventLoop.execute { [state, eventLoop] in
            guard !state.value.isClosed else {
                channel.close(promise: nil)
                return
            }
            let id = ObjectIdentifier(channel)
            state.value.channels[id] = channel
            channel.closeFuture.hop(to: eventLoop).whenComplete { _ in
                state.value.channels[id] = nil
                if state.value.channels.isEmpty {
                    state.value.finishDrain(true)
                }
            }
        }
    }

    /// Completes with `true` once no tracked channel is open, or with `false` when `timeout`
    /// passes first. Channels keep flowing meanwhile; new ones may still register.
    func drained(within timeout: TimeAmount) -> EventLoopFuture<Bool> {
        eventLoop.flatSubmit { [state, eventLoop] in
            if state.value.channels.isEmpty { return eventLoop.makeSucceededFuture(true) }
            if let waiter = state.value.drainWaiter { return waiter.futureResult }
            let waiter = eventLoop.makePromise(of: Bool.self)
            state.value.drainWaiter = waiter
            state.value.drainTimer = eventLoop.scheduleTask(in: timeout) {
                state.value.drainTimer = nil
                state.value.finishDrain(false)
            }
            return waiter.futureResult
        }
    }

    /// Closes every tracked channel and refuses new ones; completes when all have closed.
    func closeAll() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [state, eventLoop] in
            state.value.isClosed = true
            let closing = state.value.channels.values.map { $0.close() }
            return EventLoopFuture.andAllComplete(closing, on: eventLoop)
        }
    }

    /// The open tracked channels, for diagnostics and tests (e.g. reading socket options).
    func channels() -> EventLoopFuture<[any Channel]> {
        eventLoop.submit { [state] in Array(state.value.channels.values) }
    }

    /// The number of open tracked channels (two per relayed connection, one while dialling).
    func count() -> EventLoopFuture<Int> {
        eventLoop.submit { [state] in state.value.channels.count }
    }
}
