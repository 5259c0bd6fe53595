import Foundation
import KubeAPI
import Logging
import Synchronization

/// Serves Services, EndpointSlices (or legacy Endpoints) and this node's Node from the API
/// server with client-go's list/watch semantics — the same ``SourceEvent``s as
/// ``ManifestSource``, so the rest of the proxy cannot tell them apart.
///
/// Contract of ``run(_:)``:
/// - emits the initial objects as additions, then ``SourceEvent/synced`` exactly once, after
///   Services **and** endpoints (slices or legacy Endpoints) have been listed in full and the
///   Node has been listed or failed once (a proxy without RBAC on Nodes still starts);
/// - then watches until cancelled, emitting additions, updates and deletions; a relist (after a
///   `410`, an error or a reconnect) emits only the difference, including deletions that
///   happened while disconnected;
/// - never throws for API trouble (unreachable server, `401`/`403`, `429`, `5xx`, broken streams):
///   it logs and retries with backoff. It throws only for configuration errors at start.
///
/// Size limits (``APILimits``): a watch event above 16 MiB or a LIST response above 256 MiB is
/// an error that backs off and relists, never unbounded memory. Server URLs in logs and errors
/// have their user info redacted.
///
/// Which endpoints: legacy `/api/v1/endpoints` when `useEndpoints` is set or when
/// `GET /apis/discovery.k8s.io/v1` answers `404`; EndpointSlices otherwise.
public final class APISource: Sendable {
    /// Where the source connects.
    public let configuration: ClientConfiguration
    /// This node's name (its Node is watched; empty: no Node watch).
    public let nodeName: String
    /// Watch legacy Endpoints instead of EndpointSlices.
    public let useEndpoints: Bool
    /// Also watch ServiceCIDRs (nftables mode); they do not gate `.synced`.
    public let watchServiceCIDRs: Bool
    private let transport: (any APITransport)?
    private let clock: any Clock<Duration>
    private let elapsed: @Sendable () -> Duration
    private let random: @Sendable () -> Double
    private let limits: APILimits
    private let logger: Logger

    /// Creates a source; nothing is contacted until ``run(_:)``.
    ///
    /// - Parameters:
    ///   - config: the server and credentials, from ``ClientConfiguration/load(kubeconfig:master:environment:inCluster:)``.
    ///   - nodeName: this node's name, for the Node watch.
    ///   - useEndpoints: watch legacy Endpoints even if EndpointSlices are served.
    ///   - watchServiceCIDRs: also watch `networking.k8s.io/v1` ServiceCIDRs (nftables mode).
    ///   - logger: receives problems (warnings), sync progress (info) and per-event debug lines.
    public convenience init(
        config: ClientConfiguration, nodeName: String, useEndpoints: Bool = false, watchServiceCIDRs: Bool = false,
        logger: Logger
    ) {
        self.init(
            config: config, nodeName: nodeName, useEndpoints: useEndpoints, watchServiceCIDRs: watchServiceCIDRs,
            transport: nil, logger: logger)
    }

    /// Creates a source over an injected transport, clock and jitter (tests).
    init(
        config: ClientConfiguration, nodeName: String, useEndpoints: Bool, watchServiceCIDRs: Bool = false,
        transport: (any APITransport)?,
        clock: some Clock<Duration> = ContinuousClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, limits: APILimits = APILimits(),
        logger: Logger
    ) {
        self.configuration = config
        self.nodeName = nodeName
        self.useEndpoints = useEndpoints
        self.watchServiceCIDRs = watchServiceCIDRs
        self.transport = transport
        self.clock = clock
        self.elapsed = Self.elapsedTime(clock)
        self.random = random
        self.limits = limits
        self.logger = logger
    }

    /// Lists, emits the initial objects and `.synced`, then watches until cancelled (returning
    /// normally on cancellation); one event per call (see ``runInBatches(_:)``).
    ///
    /// - Throws: ``APIClientError`` only when the TLS material cannot be loaded at start.
    public func run(_ emit: @Sendable (SourceEvent) async -> Void) async throws {
        try await runInBatches { events in
            for event in events { await emit(event) }
        }
    }

    /// ``run(_:)`` with events in batches, in order: whatever the watchers delivered while the
    /// previous batch was being handled (a LIST page, a run of watch events, `.synced` after
    /// the list that completed it) is one call, so a consumer behind an actor hops once per
    /// batch instead of once per object.
    ///
    /// - Throws: as ``run(_:)``.
    public func runInBatches(_ emit: @Sendable ([SourceEvent]) async -> Void) async throws {
        let owned: HTTPTransport?
        let transport: any APITransport
        if let injected = self.transport {
            owned = nil
            transport = injected
        } else {
            let credentials = CredentialProvider(configuration: configuration, logger: logger)
            let http = try HTTPTransport(
                configuration: configuration, credentials: credentials, limits: limits, logger: logger)
            owned = http
            transport = http
        }
        logger.info("connecting to the API server", metadata: ["server": "\(configuration)"])  // redacted
        if let warning = configuration.serverUserInfoWarning { logger.warning("\(warning)") }
        await watchAll(transport, emit)
        await owned?.shutdown()
    }

    private func watchAll(_ transport: any APITransport, _ emit: @Sendable ([SourceEvent]) async -> Void) async {
        let inbox = WatcherInbox()
        let send: @Sendable (WatcherMessage) -> Void = { inbox.post($0) }
        let elapsed = self.elapsed
        let endpointsDiscovery = EndpointsDiscovery(
            transport: transport, server: configuration.redactedServer, clock: clock, elapsed: elapsed, random: random,
            logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { watchers in
                    watchers.addTask {
                        await self.watcher(.services, Service.self, transport, elapsed) { .service($0) }.run(send: send)
                    }
                    watchers.addTask {
                        let legacy = self.useEndpoints ? true : await endpointsDiscovery.legacyEndpointsOnly()
                        guard let legacy else { return }
                        if legacy {
                            await self.watcher(.endpoints, Endpoints.self, transport, elapsed) { .endpoints($0) }
                                .run(send: send)
                        } else {
                            await self.watcher(.endpointSlices, EndpointSlice.self, transport, elapsed) {
                                .endpointSlice($0)
                            }.run(send: send)
                        }
                    }
                    if self.watchServiceCIDRs {
                        watchers.addTask {
                            await self.watcher(.serviceCIDRs, ServiceCIDR.self, transport, elapsed) { .serviceCIDR($0) }
                                .run(send: send)
                        }
                    }
                    if !self.nodeName.isEmpty {
                        watchers.addTask {
                            await self.watcher(.node(self.nodeName), Node.self, transport, elapsed) { .node($0) }
                                .run(send: send)
                        }
                    }
                }
                inbox.finish()
            }
            var gate = SyncGate(watchesNode: !nodeName.isEmpty)
            for await _ in inbox.wakeups {
                // Runs of small messages (watch events) are merged into one batch; a LIST's
                // changes are handed on as they are, without copying 10k events.
                var batch: [SourceEvent] = []
                for message in inbox.take() {
                    if case .events(let events) = message {
                        if events.count >= Self.passedWhole {
                            if !batch.isEmpty { await emit(batch) }
                            batch = []
                            await emit(events)
                        } else {
                            batch.append(contentsOf: events)
                        }
                    }
                    if gate.record(message) {
                        logger.info("API objects synced", metadata: ["endpoints": "\(gate.endpointsResource?.name ?? "")"])
                        batch.append(.synced)
                    }
                }
                if !batch.isEmpty { await emit(batch) }
            }
            group.cancelAll()
        }
    }

    /// From this many events a message is emitted as its own batch rather than merged.
    static let passedWhole = 256

    private func watcher<Object: APIObject>(
        _ resource: WatchResource, _ type: Object.Type, _ transport: any APITransport,
        _ elapsed: @escaping @Sendable () -> Duration, wrap: @escaping @Sendable (ObjectChange<Object>) -> SourceEvent
    ) -> ResourceWatcher<Object> {
        let machine = WatchStateMachine<Object>(resource: resource, server: configuration.redactedServer, random: random)
        return ResourceWatcher(
            machine: machine, transport: transport, clock: clock, elapsed: elapsed,
            maximumEventBytes: limits.watchEventBytes, logger: logger, wrap: wrap)
    }

    /// Time since now on `clock`, as a monotonic offset for the state machines.
    private static func elapsedTime<C: Clock>(_ clock: C) -> @Sendable () -> Duration where C.Duration == Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }
}

/// The watchers' messages waiting for ``APISource`` to emit them: appended in order by any
/// watcher, taken all at once by the single consumer, which a wake-up signal (at most one
/// pending) calls back whenever something arrived since its last take.
final class WatcherInbox: Sendable {
    private let messages = Mutex<[WatcherMessage]>([])
    private let signal: AsyncStream<Void>.Continuation
    /// One element whenever messages arrived since the last ``take()``; ends after ``finish()``.
    let wakeups: AsyncStream<Void>

    init() {
        (wakeups, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Appends `message` and wakes the consumer.
    func post(_ message: WatcherMessage) {
        messages.withLock { $0.append(message) }
        signal.yield()
    }

    /// Every message posted since the last take, oldest first.
    func take() -> [WatcherMessage] {
        messages.withLock { taken in
            defer { taken = [] }
            return taken
        }
    }

    /// Ends ``wakeups`` once the consumer has seen the last signal.
    func finish() {
        signal.finish()
    }
}
