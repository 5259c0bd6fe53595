import KubeProxyCore
import NIOCore

/// A `RoundRobinBalancer` confined to one event loop, shared by a listener's connections.
///
/// Connections run on any loop of the group; they hop to this loop for each choice. That keeps
/// the balancer a plain value with no lock (NIOCore offers none), costs one hop per dial
/// attempt, and serialises choices so the rotation and the pins stay consistent.
final class ServiceBalancer: Sendable {
    /// The loop that owns the balancer state.
    let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<RoundRobinBalancer>
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates an empty balancer owned by `eventLoop`.
    init(
        eventLoop: any EventLoop,
        sessionAffinity: SessionAffinity,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.eventLoop = eventLoop
        self.state = .makeBoxSendingValue(RoundRobinBalancer(sessionAffinity: sessionAffinity), eventLoop: eventLoop)
        self.now = now
    }

    /// Replaces endpoints and affinity; affects new connections only.
    func update(endpoints: [EndpointAddress], sessionAffinity: SessionAffinity) -> EventLoopFuture<Void> {
        eventLoop.submit { [state] in
            var generator = SystemRandomNumberGenerator()
            state.value.update(endpoints: endpoints, sessionAffinity: sessionAffinity, using: &generator)
        }
    }

    /// Chooses the endpoint for one dial attempt (see `RoundRobinBalancer.next`).
    func next(clientIP: IPAddress?, resetAffinity: Bool) -> EventLoopFuture<EndpointAddress?> {
        eventLoop.submit { [state, now] in
            state.value.next(clientIP: clientIP, resetAffinity: resetAffinity, now: now())
        }
    }

    /// Forgets expired ClientIP pins.
    func removeStaleAffinity() -> EventLoopFuture<Void> {
        eventLoop.submit { [state, now] in
            state.value.removeStaleAffinity(now: now())
        }
    }

    /// Forgets expired ClientIP pins every `interval` until the returned task is cancelled, so
    /// the pin table stays bounded between syncs too.
    func removeStaleAffinity(every interval: TimeAmount) -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [state, now] _ in
            state.value.removeStaleAffinity(now: now())
        }
    }

    /// The number of clients with a pin, expired ones included; for tests and diagnostics.
    func pinnedClientCount() -> EventLoopFuture<Int> {
        eventLoop.submit { [state] in state.value.pinnedClientCount }
    }

    /// The number of endpoints currently in rotation.
    func endpointCount() -> EventLoopFuture<Int> {
        eventLoop.submit { [state] in state.value.endpoints.count }
    }
}
