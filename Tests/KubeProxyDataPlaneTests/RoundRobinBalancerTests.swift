import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyTesting
import Testing

/// Upstream `roundrobin_test.go` (including the historical tests) and the fixed
/// affinity-timeout bug. Shuffled orders are read back from `endpoints`, as upstream's tests do.
/// Upstream's multi-service tests (service removal) have no counterpart: one balancer
/// value per service port cannot touch another; per-port-name endpoint lists are built by the
/// caller.
@Suite("RoundRobinBalancer")
struct RoundRobinBalancerTests {
    let t0 = ContinuousClock.now
    let client1 = IPAddress("127.0.0.1")!
    let client2 = IPAddress("127.0.0.2")!
    let client3 = IPAddress("127.0.0.3")!

    func endpoint(_ port: Int, _ host: String = "10.0.0.1") -> EndpointAddress {
        EndpointAddress(ip: IPAddress(host)!, port: port)
    }

    func balancer(
        _ endpoints: [EndpointAddress],
        affinity: SessionAffinity = .none,
        seed: UInt64 = 7
    ) -> RoundRobinBalancer {
        var balancer = RoundRobinBalancer(sessionAffinity: affinity)
        var generator = SeededGenerator(seed: seed)
        balancer.setEndpoints(endpoints, using: &generator)
        return balancer
    }

    /// `count` choices for `client` at `t0`.
    func picks(
        _ balancer: inout RoundRobinBalancer,
        _ count: Int,
        client: IPAddress? = nil,
        reset: Bool = false
    ) -> [EndpointAddress?] {
        (0..<count).map { _ in balancer.next(clientIP: client, resetAffinity: reset, now: t0) }
    }

    @Test func failsWithNoEndpoints() {
        var plain = RoundRobinBalancer()
        #expect(plain.next(clientIP: nil, resetAffinity: false, now: t0) == nil)
        var sticky = RoundRobinBalancer(sessionAffinity: .clientIP(timeoutSeconds: 10))
        #expect(sticky.next(clientIP: client1, resetAffinity: false, now: t0) == nil)
        #expect(sticky.pinnedClientCount == 0)
    }

    @Test func worksWithSingleEndpoint() {
        var b = balancer([endpoint(40)])
        #expect(picks(&b, 4) == Array(repeating: endpoint(40), count: 4))
    }

    @Test func cyclesThroughShuffledEndpoints() {
        let input = [endpoint(1), endpoint(2), endpoint(3)]
        var b = balancer(input)
        let order = b.endpoints
        #expect(order.sorted() == input)
        #expect(picks(&b, 4) == [order[0], order[1], order[2], order[0]])
    }

    @Test func changedSetRestartsRotationAndEmptySetFails() {
        var b = balancer([endpoint(1), endpoint(2), endpoint(3)])
        _ = picks(&b, 2)
        var generator = SeededGenerator(seed: 9)
        b.setEndpoints([endpoint(8, "10.0.0.4"), endpoint(9, "10.0.0.5")], using: &generator)
        let order = b.endpoints
        #expect(order.sorted() == [endpoint(8, "10.0.0.4"), endpoint(9, "10.0.0.5")])
        #expect(picks(&b, 3) == [order[0], order[1], order[0]])
        b.setEndpoints([], using: &generator)
        #expect(b.endpoints.isEmpty)
        #expect(picks(&b, 1) == [nil])
    }

    /// docs/userspace-behaviour.md#endpoint-updates: the same set in another order keeps order, position and pins.
    @Test func sameSetInOtherOrderChangesNothing() {
        let input = [endpoint(1), endpoint(2), endpoint(3)]
        var b = balancer(input, affinity: .clientIP(timeoutSeconds: 100))
        let order = b.endpoints
        let pinned = b.next(clientIP: client1, resetAffinity: false, now: t0)
        var generator = SeededGenerator(seed: 99)
        b.setEndpoints(input.reversed(), using: &generator)
        #expect(b.endpoints == order)
        #expect(picks(&b, 1) == [order[1]])
        #expect(picks(&b, 1, client: client1) == [pinned])
    }

    @Test func stickyWhenAffinityComesFirst() {
        var b = RoundRobinBalancer(sessionAffinity: .clientIP(timeoutSeconds: 10800))
        var generator = SeededGenerator(seed: 1)
        b.update(
            endpoints: [endpoint(1), endpoint(2), endpoint(3)],
            sessionAffinity: .clientIP(timeoutSeconds: 10800),
            using: &generator
        )
        let order = b.endpoints
        #expect(picks(&b, 2, client: client1) == [order[0], order[0]])
        #expect(picks(&b, 2, client: client2) == [order[1], order[1]])
        #expect(picks(&b, 2, client: client3) == [order[2], order[2]])
        for _ in 0..<2 {
            #expect(picks(&b, 1, client: client1) == [order[0]])
            #expect(picks(&b, 1, client: client2) == [order[1]])
            #expect(picks(&b, 1, client: client3) == [order[2]])
        }
    }

    /// Endpoints arrive first (no affinity yet), then the Service turns ClientIP on.
    @Test func stickyWhenAffinityComesSecond() {
        let input = [endpoint(1), endpoint(2)]
        var b = balancer(input)
        var generator = SeededGenerator(seed: 2)
        b.update(endpoints: input, sessionAffinity: .clientIP(timeoutSeconds: 10800), using: &generator)
        let order = b.endpoints
        #expect(picks(&b, 3, client: client1) == [order[0], order[0], order[0]])
        #expect(picks(&b, 3, client: client2) == [order[1], order[1], order[1]])
    }

    @Test func removingAnEndpointMovesOnlyItsClients() {
        let input = [endpoint(1), endpoint(2), endpoint(3)]
        var b = balancer(input, affinity: .clientIP(timeoutSeconds: 10800))
        let order = b.endpoints
        let clients = [client1, client2, client3]
        for (client, expected) in zip(clients, order) {
            #expect(picks(&b, 2, client: client) == [expected, expected])
        }
        var generator = SeededGenerator(seed: 5)
        b.setEndpoints([order[0], order[1]], using: &generator)
        let shrunk = b.endpoints
        #expect(picks(&b, 1, client: client1) == [order[0]])
        #expect(picks(&b, 1, client: client2) == [order[1]])
        #expect(picks(&b, 2, client: client3) == [shrunk[0], shrunk[0]])

        b.setEndpoints([order[0], order[1], endpoint(4)], using: &generator)
        let grown = b.endpoints
        #expect(picks(&b, 1, client: client1) == [order[0]])
        #expect(picks(&b, 1, client: client2) == [order[1]])
        #expect(picks(&b, 1, client: client3) == [shrunk[0]])
        let newcomers = ["127.0.0.4", "127.0.0.5", "127.0.0.6"].map { IPAddress($0)! }
        #expect(newcomers.flatMap { picks(&b, 1, client: $0) } == grown)
    }

    @Test func disjointUpdateDropsEveryPin() {
        var b = balancer([endpoint(1), endpoint(2), endpoint(3)], affinity: .clientIP(timeoutSeconds: 10800))
        _ = picks(&b, 1, client: client1) + picks(&b, 1, client: client2) + picks(&b, 1, client: client3)
        #expect(b.pinnedClientCount == 3)
        var generator = SeededGenerator(seed: 6)
        b.setEndpoints([endpoint(4), endpoint(5)], using: &generator)
        #expect(b.pinnedClientCount == 0)
        let order = b.endpoints
        #expect(picks(&b, 1, client: client1) == [order[0]])
        #expect(picks(&b, 1, client: client2) == [order[1]])
        #expect(picks(&b, 2, client: client1) == [order[0], order[0]])
        #expect(picks(&b, 2, client: client2) == [order[1], order[1]])
        b.setEndpoints([], using: &generator)
        #expect(picks(&b, 1, client: client1) == [nil])
    }

    /// A retry after a failed dial ignores the pin, takes the next endpoint in turn and re-pins.
    @Test func resetTakesTheNextEndpointAndRepins() {
        var b = balancer([endpoint(1), endpoint(2), endpoint(3)], affinity: .clientIP(timeoutSeconds: 10800))
        let o = b.endpoints
        #expect(picks(&b, 1, client: client1) + picks(&b, 1, client: client2) + picks(&b, 1, client: client3) == o)
        #expect(picks(&b, 4, client: client1, reset: true) == [o[0], o[1], o[2], o[0]])
        #expect(picks(&b, 1, client: client2) == [o[1]])
        #expect(picks(&b, 1, client: client2, reset: true) == [o[1]])
        #expect(picks(&b, 1, client: client3, reset: true) == [o[2]])
        #expect(picks(&b, 1, client: client1) == [o[0]])
        #expect(picks(&b, 1, client: client2) == [o[1]])
    }

    @Test func stickyWithSingleEndpoint() {
        var b = balancer([endpoint(1)], affinity: .clientIP(timeoutSeconds: 10800))
        #expect(picks(&b, 2, client: client1) == [endpoint(1), endpoint(1)])
        #expect(picks(&b, 2, client: client2) == [endpoint(1), endpoint(1)])
    }

    @Test func withoutAffinityTheSameClientRotates() {
        var b = balancer([endpoint(1), endpoint(2), endpoint(3)])
        let o = b.endpoints
        #expect(picks(&b, 4, client: client1) == [o[0], o[1], o[2], o[0]])
        #expect(b.pinnedClientCount == 0)
    }

    /// Historical TestValidateWorks/TestFilterWorks: invalid ports are dropped.
    @Test func dropsEndpointsWithInvalidPorts() {
        var b = balancer([endpoint(0), endpoint(-1), endpoint(80), endpoint(70000), endpoint(81)])
        #expect(b.endpoints.sorted() == [endpoint(80), endpoint(81)])
        var generator = SeededGenerator(seed: 1)
        b.setEndpoints([endpoint(0)], using: &generator)
        #expect(picks(&b, 1) == [nil])
    }

    @Test func configuredTimeoutIsHonoured() {
        var b = balancer([endpoint(1), endpoint(2), endpoint(3)], affinity: .clientIP(timeoutSeconds: 10))
        let o = b.endpoints
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0) == o[0])
        #expect(b.next(clientIP: client2, resetAffinity: false, now: t0) == o[1])
        // Each use refreshes the pin; idling 9.9 s keeps it, idling exactly 10 s loses it.
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0 + .milliseconds(9900)) == o[0])
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0 + .milliseconds(19800)) == o[0])
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0 + .milliseconds(29800)) == o[2])
    }

    /// kubernetes/kubernetes#107398: endpoints first, then the Service with a short timeout.
    @Test func timeoutHonouredWhenEndpointsArriveFirst() {
        let input = [endpoint(1), endpoint(2), endpoint(3)]
        var b = balancer(input)
        var generator = SeededGenerator(seed: 4)
        b.update(endpoints: input, sessionAffinity: .clientIP(timeoutSeconds: 5), using: &generator)
        let o = b.endpoints
        #expect(b.affinityTimeout == .seconds(5))
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0) == o[0])
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0 + .seconds(4)) == o[0])
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0 + .seconds(9)) == o[1])
    }

    @Test(arguments: [0, -5])
    func nonPositiveTimeoutMeansDefault(_ seconds: Int) {
        let b = RoundRobinBalancer(sessionAffinity: .clientIP(timeoutSeconds: seconds))
        #expect(b.affinityTimeout == .seconds(10800))
        #expect(RoundRobinBalancer().affinityTimeout == nil)
    }

    @Test func removeStaleAffinityForgetsIdlePins() {
        var b = balancer([endpoint(1), endpoint(2)], affinity: .clientIP(timeoutSeconds: 10))
        _ = b.next(clientIP: client1, resetAffinity: false, now: t0)
        let pinned2 = b.next(clientIP: client2, resetAffinity: false, now: t0 + .seconds(5))
        b.removeStaleAffinity(now: t0 + .milliseconds(9999))
        #expect(b.pinnedClientCount == 2)
        b.removeStaleAffinity(now: t0 + .seconds(10))
        #expect(b.pinnedClientCount == 1)
        #expect(b.pinnedEndpoint(for: client1) == nil)
        #expect(b.pinnedEndpoint(for: client2) == pinned2)
    }

    @Test func turningAffinityOffForgetsPinsAndChangingTimeoutKeepsThem() {
        var b = balancer([endpoint(1), endpoint(2)], affinity: .clientIP(timeoutSeconds: 100))
        let o = b.endpoints
        _ = b.next(clientIP: client1, resetAffinity: false, now: t0)
        b.setSessionAffinity(.clientIP(timeoutSeconds: 10))
        #expect(b.pinnedEndpoint(for: client1) == o[0])
        #expect(b.next(clientIP: client1, resetAffinity: false, now: t0 + .seconds(11)) == o[1])
        b.setSessionAffinity(.none)
        #expect(b.pinnedClientCount == 0)
        #expect(picks(&b, 2, client: client1) == [o[0], o[1]])
    }

    @Test func unknownClientIsNotPinned() {
        var b = balancer([endpoint(1), endpoint(2)], affinity: .clientIP(timeoutSeconds: 100))
        let o = b.endpoints
        #expect(picks(&b, 3) == [o[0], o[1], o[0]])
        #expect(b.pinnedClientCount == 0)
    }

    /// Scale to zero forgets pins but keeps the affinity configuration.
    @Test func emptyUpdateKeepsAffinityConfiguration() {
        let input = [endpoint(1), endpoint(2)]
        var b = balancer(input, affinity: .clientIP(timeoutSeconds: 30))
        _ = picks(&b, 1, client: client1)
        var generator = SeededGenerator(seed: 8)
        b.setEndpoints([], using: &generator)
        #expect(b.pinnedClientCount == 0)
        #expect(b.sessionAffinity == .clientIP(timeoutSeconds: 30))
        b.setEndpoints(input, using: &generator)
        let first = b.next(clientIP: client1, resetAffinity: false, now: t0)
        #expect(picks(&b, 3, client: client1) == [first, first, first])
    }

    @Test func changedSetsAreShuffledPermutations() {
        let input = (1...8).map { endpoint($0) }
        let orders = (0..<5).map { seed in balancer(input, seed: UInt64(seed)).endpoints }
        #expect(orders.allSatisfy { $0.sorted() == input })
        #expect(Set(orders.map { $0.map(\.port) }).count > 1)
    }
}
