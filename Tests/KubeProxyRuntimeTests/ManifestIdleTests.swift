import Foundation
import KubeClient
import KubeProxyTesting
import Logging
import Synchronization
import Testing

@testable import KubeProxyRuntime

/// Issue #9's idle check: with hundreds of Services loaded from manifests and nothing changing,
/// the proxy does no listing (beyond the safety timer), no read, no parse, no sync and no
/// per-port work. Everything is counted through the injected clock and counters, not wall time.
@Suite(.timeLimit(.minutes(2))) struct ManifestIdleTests {
    static let services = 500
    static let interval = Duration.milliseconds(250)

    /// Writes `services` Services and their EndpointSlices into ten files.
    static func writeManifests(to directory: String, port: (Int) -> Int = { _ in 80 }) throws {
        for file in 0..<10 {
            var documents: [String] = []
            for index in stride(from: file, to: services, by: 10) {
                documents.append(
                    """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: svc-\(index), namespace: default}
                    spec:
                      clusterIP: 10.96.\(index / 200).\(index % 200 + 1)
                      ports: [{name: http, port: \(port(index)), targetPort: 8080}]
                    ---
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata:
                      name: svc-\(index)-a
                      namespace: default
                      labels: {kubernetes.io/service-name: svc-\(index)}
                    addressType: IPv4
                    endpoints: [{addresses: ["10.244.\(index / 200).\(index % 200 + 1)"], conditions: {ready: true}}]
                    ports: [{name: http, port: 8080, protocol: TCP}]
                    """)
            }
            try Data(documents.joined(separator: "\n---\n").utf8)
                .write(to: URL(fileURLWithPath: "\(directory)/services-\(file).yaml"))
        }
    }

    @Test func anUnchangedManifestDirectoryCostsNothing() async throws {
        let directory = NSTemporaryDirectory() + "manifest-idle-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeManifests(to: directory)

        let clock = ManualClock()
        let fake = FakeUserspaceDataPlane()
        let controller = ProxyController(nodeName: "node-1", family: .ipv4, dataPlane: fake, logger: Logger(label: "test"))
        let source = ManifestSource(
            path: directory, validator: ObjectValidation.validator(), pollInterval: Self.interval, clock: clock,
            logger: Logger(label: "test"))
        let activity = Activity()

        /// Lets `count` polls happen; returns once the source sleeps again after the last.
        func poll(_ count: Int) async {
            for _ in 0..<count {
                let deadline = clock.now.advanced(by: Self.interval)
                await clock.waitForSleeper(until: deadline)
                clock.advance(to: deadline)
            }
            await clock.waitForSleeper(until: clock.now.advanced(by: Self.interval))
        }
        /// Syncs when an event asked for it, as the runtime's sync runner does.
        func syncIfRequested() async {
            let requested = activity.state.withLock { state in
                defer { state.syncRequests = 0 }
                return state.syncRequests > 0
            }
            if requested { #expect(await controller.sync()) }
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await source.run { event in
                    let wantsSync = await controller.handle(event)
                    activity.state.withLock {
                        $0.events += 1
                        if wantsSync { $0.syncRequests += 1 }
                    }
                }
            }
            await clock.waitForSleeper(until: clock.now.advanced(by: Self.interval))
            await syncIfRequested()
            #expect(fake.ports.count == Self.services)
            #expect(fake.applyCount == 1)
            let loaded = source.counters()
            #expect(loaded.eventDriven)
            #expect(loaded.listings == 1 && loaded.parses == 10)
            let eventsLoaded = activity.state.withLock { $0.events }
            #expect(eventsLoaded == 2 * Self.services + 1)

            // 100 s of nothing: 400 polls, of which the 120th, 240th and 360th list (stat only).
            await poll(400)
            await syncIfRequested()
            let idle = source.counters()
            #expect(idle.listings == loaded.listings + 3)
            #expect(idle.safetyListings == 3)
            #expect(idle.reads == loaded.reads)
            #expect(idle.parses == loaded.parses)
            #expect(activity.state.withLock { $0.events } == eventsLoaded)
            #expect(fake.applyCount == 1)

            // The same counters move as soon as something does change: one file, one sync.
            try Self.writeManifests(to: directory) { $0 == 7 ? 81 : 80 }
            await poll(2)
            await syncIfRequested()
            #expect(source.counters().parses == loaded.parses + 1)  // the other nine files read the same
            #expect(activity.state.withLock { $0.events } == eventsLoaded + 1)
            #expect(fake.applyCount == 2)

            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

/// What the source delivered and how many syncs it asked for.
private final class Activity: Sendable {
    let state = Mutex((events: 0, syncRequests: 0))
}
