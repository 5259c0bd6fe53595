import NIOCore
import Synchronization

/// Remembers every open relayed channel so `UserspaceProxy.shutdown` can wait for them to finish
/// (drain) and then close the rest.
///
/// Connections outlive their listener (docs/userspace-behaviour.md#tcp-changes), so no listener can own them. Channels
/// of every event loop register here and drop out when their close future fires. The set sits
/// behind a mutex rather than on one event loop: registering from the connection's own loop
/// costs a short lock instead of a cross-thread task and wake-up per channel (the profile in
/// docs/dataplane-profile.md), and keeps each connection's work on its own core.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var isClosed = false
        /// A drain in progress: completed with `true` when the set empties, `false` at its timeout.
        var drainWaiter: EventLoopPromise<Bool>?
        var drainTimer: Scheduled<Void>?

        /// Ends a drain in progress with `drained`; returns the waiter to complete outside the lock.
        mutating func finishDrain() -> EventLoopPromise<Bool>? {
            drainTimer?.cancel()
            drainTimer = nil
            defer { drainWaiter = nil }
            return drainWaiter
        }
    }

    /// Where drain timers run and drain futures complete.
    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    /// Creates an empty tracker whose drain timers run on `eventLoop`.
    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Tracks `channel` until it closes; after `closeAll` the channel is closed at once instead.
    func register(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            state.channels[id] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in remove(id) }
    }

    private func remove(_ id: ObjectIdentifier) {
        let waiter = state.withLock { state -> EventLoopPromise<Bool>? in
            state.channels[id] = nil
            return state.channels.isEmpty ? state.finishDrain() : nil
        }
        waiter?.succeed(true)
    }

    /// Completes with `true` once no tracked channel is open, or with `false` when `timeout`
    /// passes first. Channels keep flowing meanwhile; new ones may still register.
    func drained(within timeout: TimeAmount) -> EventLoopFuture<Bool> {
        let promise = eventLoop.makePromise(of: Bool.self)
        let existing = state.withLock { state -> EventLoopFuture<Bool>? in
            if state.channels.isEmpty { return eventLoop.makeSucceededFuture(true) }
            if let waiter = state.drainWaiter { return waiter.futureResult }
            state.drainWaiter = promise
            state.drainTimer = eventLoop.scheduleTask(in: timeout) { [self] in
                let waiter = self.state.withLock { state -> EventLoopPromise<Bool>? in
                    state.drainTimer = nil
                    return state.finishDrain()
                }
                waiter?.succeed(false)
            }
            return nil
        }
        guard let existing else { return promise.futureResult }
        // The fresh promise was not needed; complete it so NIO does not report it as leaked.
        promise.succeed(false)
        return existing
    }

    /// Closes every tracked channel and refuses new ones; completes when all have closed.
    func closeAll() -> EventLoopFuture<Void> {
        let open = state.withLock { state -> [any Channel] in
            state.isClosed = true
            return Array(state.channels.values)
        }
        return EventLoopFuture.andAllComplete(open.map { $0.close() }, on: eventLoop)
    }

    /// The open tracked channels, for diagnostics and tests (e.g. reading socket options).
    func channels() -> EventLoopFuture<[any Channel]> {
        eventLoop.makeSucceededFuture(state.withLock { Array($0.channels.values) })
    }

    /// The number of open tracked channels (two per relayed connection, one while dialling).
    func count() -> EventLoopFuture<Int> {
        eventLoop.makeSucceededFuture(state.withLock { $0.channels.count })
    }
}
