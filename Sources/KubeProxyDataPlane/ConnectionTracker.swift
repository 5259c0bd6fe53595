import NIOCore

/// Remembers every open relayed channel so `UserspaceProxy.shutdown` can close them.
///
/// Connections outlive their listener (TCP-08), so no listener can own them. The set is confined
/// to one event loop; channels register themselves and drop out when their close future fires.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var isClosed = false
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
            }
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

    /// The number of open tracked channels (two per relayed connection, one while dialling).
    func count() -> EventLoopFuture<Int> {
        eventLoop.submit { [state] in state.value.channels.count }
    }
}
