import KubeAPI
import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyTesting
import Logging
import Testing

@testable import KubeProxyRuntime

struct UserspaceBackendTests {
    /// Feeds `changes` through real trackers and returns the snapshot and delta they make.
    static func apply(
        _ state: inout ProxyState, services changes: [(Service?, Service?)], slices: [(EndpointSlice?, EndpointSlice?)] = []
    ) -> (ProxySnapshot, SyncDelta) {
        var services = ServiceChangeTracker<ContinuousClock.Instant>()
        var endpoints = EndpointsChangeTracker<ContinuousClock.Instant>(family: .ipv4)
        for (old, new) in changes { services.update(previous: old, current: new, at: .now) }
        for (old, new) in slices { endpoints.update(previous: old, current: new, at: .now) }
        let delta = state.apply(services: &services, endpoints: &endpoints)
        return (state.snapshot, delta)
    }

    /// The plan is a value: listeners with their endpoints, the ports for claims and rules, and
    /// the removed UDP cluster IPs to flush, with no I/O (the fake data plane is never called).
    @Test func thePlanIsAComparableValueMadeWithoutIO() async throws {
        let dataPlane = FakeUserspaceDataPlane()
        let backend = UserspaceBackend(nodeName: "node-1", dataPlane: dataPlane, logger: Logger(label: "test"))
        var state = ProxyState(family: .ipv4)
        let web = ProxyControllerTests.service("web")
        let dns = ProxyControllerTests.service("dns", clusterIP: "10.96.0.53", ports: [("dns", 53, "UDP")])
        let slice = ProxyControllerTests.slice("web-1", service: "web", endpoints: [("10.0.0.1", true, nil, nil)])
        let (snapshot, delta) = Self.apply(&state, services: [(nil, web), (nil, dns)], slices: [(nil, slice)])
        let first = await backend.plan(snapshot: snapshot, delta: delta)
        let dnsPort = ServicePortName(namespace: "default", name: "dns", port: "dns", protocol: .udp)
        #expect(first.listeners.keys.sorted() == [dnsPort, ProxyControllerTests.web])
        #expect(first.listeners[ProxyControllerTests.web]?.endpoints.map(\.description) == ["10.0.0.1:8080"])
        #expect(first.servicePorts == snapshot.servicePorts)
        #expect(first.removedUDPClusterIPs.isEmpty)
        #expect(dataPlane.applyCount == 0)

        let (after, removal) = Self.apply(&state, services: [(dns, nil)])
        let second = await backend.plan(snapshot: after, delta: removal)
        #expect(second.listeners.keys.sorted() == [ProxyControllerTests.web])
        #expect(second.removedUDPClusterIPs == [IPAddress("10.96.0.53")!])
        #expect(second.staleUDPServicePorts == [dnsPort])
    }

    @Test func aFailedListenerFailsTheOutcomeAndAHealthyOneSucceeds() async throws {
        let dataPlane = FakeUserspaceDataPlane()
        let backend = UserspaceBackend(nodeName: "node-1", dataPlane: dataPlane, logger: Logger(label: "test"))
        var state = ProxyState(family: .ipv4)
        let (snapshot, delta) = Self.apply(&state, services: [(nil, ProxyControllerTests.service("web"))])
        let plan = await backend.plan(snapshot: snapshot, delta: delta)
        dataPlane.setFailing([ProxyControllerTests.web])
        let failed = await backend.apply(plan)
        #expect(failed.isProgrammed == false)
        #expect(failed.wantsRetry)
        dataPlane.setFailing([])
        #expect(await backend.apply(plan).result == .succeeded)
        #expect(dataPlane.ports.keys.sorted() == [ProxyControllerTests.web])
    }
}
