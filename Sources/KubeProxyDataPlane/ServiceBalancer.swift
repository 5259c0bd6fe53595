import KubeProxyCore
import NIOCore
import Synchronization

/// A `RoundRobinBalancer` shared by a listener's connections, behind a mutex.
///
/// Connections run on every loop of the group and ask for an endpoint once per dial attempt.
/// A choice is a few dictionary operations, so a short lock beats the event-loop hop this type
/// used before (one cross-thread task, two promises and an eventfd wake-up per new connection,
/// measured in docs/dataplane-profile.md); choices stay serialised, so the rotation and the pins
/// stay consistent. `eventLoop` remains the home of the port's UDP socket and of the periodic
/// pin sweep.
final class ServiceBalancer: Sendable {
    /// The loop that serves the port's UDP socket and runs the pin sweep.
    let eventLoop: any EventLoop
    private let state: Mutex<RoundRobinBalancer>
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates an empty balancer whose periodic work runs on `eventLoop`.
    init(
        eventLoop: any EventLoop,
        sessionAffinity: SessionAffinity,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.eventLoop = eventLoop
        self.state = Mutex(RoundRobinBalancer(sessionAffinity: sessionAffinity))
        self.now = now
    }

    /// Replaces endpoints and affinity; affects new connections only. The rotation's starting
    /// order comes from a cheap generator: it spreads load, it guards nothing.
    func update(endpoints: [EndpointAddress], sessionAffinity: SessionAffinity) {
        var generator = SplitMix64.fresh()
        state.withLock { $0.update(endpoints: endpoints, sessionAffinity: sessionAffinity, using: &generator) }
    }

    /// Chooses the endpoint for one dial attempt (see `RoundRobinBalancer.next`); callable from
    /// any thread.
    func choose(clientIP: IPAddress?, resetAffinity: Bool) -> EndpointAddress? {
        let instant = now()
        return state.withLock { $0.next(clientIP: clientIP, resetAffinity: resetAffinity, now: instant) }
    }

    /// Forgets expired ClientIP pins.
    func removeStaleAffinity() {
        let instant = now()
        state.withLock { $0.removeStaleAffinity(now: instant) }
    }

    /// Forgets expired ClientIP pins every `interval` until the returned task is cancelled, so
    /// the pin table stays bounded between syncs too.
    func removeStaleAffinity(every interval: TimeAmount) -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            removeStaleAffinity()
        }
    }

    /// The number of clients with a pin, expired ones included; for tests and diagnostics.
    var pinnedClientCount: Int {
        state.withLock { $0.pinnedClientCount }
    }

    /// The number of endpoints currently in rotation.
    var endpointCount: Int {
        state.withLock { $0.endpoints.count }
    }
}
