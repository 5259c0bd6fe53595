import KubeProxyCore
import NIOPosix
import Synchronization
import Testing

@testable import KubeProxyDataPlane

/// The shared balancer: periodic affinity hygiene (docs/userspace-behaviour.md#client-ip-affinity) with an injected clock.
@Suite("ServiceBalancer", .timeLimit(.minutes(1)))
struct ServiceBalancerTests {
    final class FakeTime: Sendable {
        private let value = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { value.withLock { $0 } }
        func advance(_ amount: Duration) { value.withLock { $0 += amount } }
    }

    @Test func expiredPinsAreRemovedPeriodicallyWithoutAnApply() async throws {
        let time = FakeTime()
        let balancer = ServiceBalancer(
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(), sessionAffinity: .clientIP(timeoutSeconds: 10),
            now: { time.now }
        )
        let endpoints = [EndpointAddress(ip: IPAddress("10.0.0.1")!, port: 80)]
        balancer.update(endpoints: endpoints, sessionAffinity: .clientIP(timeoutSeconds: 10))
        _ = balancer.choose(clientIP: IPAddress("10.1.0.1")!, resetAffinity: false)
        _ = balancer.choose(clientIP: IPAddress("10.1.0.2")!, resetAffinity: false)
        let cleanup = balancer.removeStaleAffinity(every: .milliseconds(10))
        defer { cleanup.cancel() }

        time.advance(.seconds(5))
        _ = balancer.choose(clientIP: IPAddress("10.1.0.2")!, resetAffinity: false)
        try await Task.sleep(for: .milliseconds(50))
        #expect(balancer.pinnedClientCount == 2)

        time.advance(.seconds(6))
        #expect(try await eventually { balancer.pinnedClientCount == 1 })
    }
}
