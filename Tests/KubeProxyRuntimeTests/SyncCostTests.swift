import KubeAPI
import KubeClient
import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyTesting
import Logging
import Synchronization
import Testing

@testable import KubeProxyRuntime

/// A sync costs the change, not the cluster: counted through what the data plane is asked to
/// look at, not timed.
@Suite struct SyncCostTests {
    /// The fake data plane, recording the `changed` set of every incremental apply.
    final class RecordingDataPlane: UserspaceDataPlane {
        let inner = FakeUserspaceDataPlane()
        private let seen = Mutex<[Set<ServicePortName>?]>([])
        /// The `changed` argument of every apply, in order.
        var changedSets: [Set<ServicePortName>?] { seen.withLock { $0 } }

        func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange] {
            await apply(desired, changed: nil)
        }
        func apply(_ desired: [ServicePortName: ProxiedPort], changed: Set<ServicePortName>?) async -> [DataPlaneChange] {
            seen.withLock { $0.append(changed) }
            return await inner.apply(desired)
        }
        func listenerPorts() async -> [ServicePortName: Int] { await inner.listenerPorts() }
        func updateClaims(_ desired: Set<PortClaim>) async -> [PortClaimResult] { await inner.updateClaims(desired) }
        func statistics() async -> [ServicePortName: ListenerStatistics] { await inner.statistics() }
        func unservedPorts() async -> UnservedPorts? { await inner.unservedPorts() }
        func shutdown(drainTimeout: Duration) async { await inner.shutdown(drainTimeout: drainTimeout) }
    }

    static func name(_ index: Int) -> ServicePortName {
        ServicePortName(namespace: "default", name: "svc-\(index)", port: "http")
    }

    @Test func oneSliceChangeAsksTheDataPlaneAboutThatPortOnly() async throws {
        let dataPlane = RecordingDataPlane()
        let loop = ProxyController(nodeName: "node-1", family: .ipv4, dataPlane: dataPlane, logger: Logger(label: "test"))
        var events: [SourceEvent] = []
        var slices: [EndpointSlice] = []
        for index in 0..<50 {
            events.append(.service(.added(ProxyControllerTests.service("svc-\(index)", clusterIP: "10.96.1.\(index)"))))
            let slice = ProxyControllerTests.slice(
                "svc-\(index)-1", service: "svc-\(index)", endpoints: [("10.244.0.\(index)", true, nil, nil)])
            slices.append(slice)
            events.append(.endpointSlice(.added(slice)))
        }
        #expect(await loop.handle(events + [.synced]))
        #expect(await loop.sync())
        #expect(dataPlane.changedSets == [Set((0..<50).map(Self.name))])
        #expect(dataPlane.inner.ports.count == 50)

        let moved = ProxyControllerTests.slice(
            "svc-7-1", service: "svc-7", endpoints: [("10.244.1.7", true, nil, nil)])
        #expect(await loop.handle([.endpointSlice(.updated(old: slices[7], new: moved))]))
        #expect(await loop.sync())
        #expect(dataPlane.changedSets.last == [Self.name(7)])
        #expect(dataPlane.inner.ports[Self.name(7)]?.endpoints.map(\.description) == ["10.244.1.7:8080"])

        // A sync with nothing pending looks at nothing.
        #expect(await loop.sync())
        #expect(dataPlane.changedSets.last == [])
    }
}
