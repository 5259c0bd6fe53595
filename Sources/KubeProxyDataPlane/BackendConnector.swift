import KubeProxyCore
import Logging
import NIOCore

/// Connects one accepted client to an endpoint and glues the two channels together.
///
/// The dial ladder of upstream (docs/userspace-behaviour.md#tcp-dial-ladder): up to one attempt per entry of `dialTimeouts`
/// (250 ms, 500 ms, 1 s, 2 s by default), each asking the balancer for an endpoint — with
/// affinity on the first attempt and `resetAffinity` on the later ones. No endpoints or
/// every attempt failed: the client is closed (it saw a completed handshake, then EOF).
///
/// Unlike upstream (kubernetes/kubernetes#12242) nothing here blocks the listener: the
/// client channel waits with `autoRead` off while the dial runs as futures on its loop. Every
/// step of a connection (choice, dial, relay) stays on the client's loop.
///
/// A class, not a struct: each dial step's closure captures it, and capturing one reference is
/// cheaper than copying (and retaining) its ten fields into every closure context.
final class BackendConnector: Sendable {
    /// The service port, for logs.
    let name: ServicePortName
    /// The listener's bind address, for error context.
    let listenAddress: IPAddress
    /// The listener's endpoint choice.
    let balancer: ServiceBalancer
    /// How to reach endpoints.
    let dialer: any BackendDialer
    /// One entry per attempt; never empty (the proxy substitutes the default ladder).
    let dialTimeouts: [TimeAmount]
    /// Where relayed channels are tracked for shutdown.
    let tracker: ConnectionTracker
    /// The listener's statistics.
    let counters: ListenerCounters
    /// The process's descriptors: a connection needs two (client and backend).
    let budget: DescriptorBudget
    /// Debug-level per-connection logging.
    let logger: Logger

    /// Creates the connector of one listener.
    init(
        name: ServicePortName,
        listenAddress: IPAddress,
        balancer: ServiceBalancer,
        dialer: any BackendDialer,
        dialTimeouts: [TimeAmount],
        tracker: ConnectionTracker,
        counters: ListenerCounters,
        budget: DescriptorBudget,
        logger: Logger
    ) {
        self.name = name
        self.listenAddress = listenAddress
        self.balancer = balancer
        self.dialer = dialer
        self.dialTimeouts = dialTimeouts
        self.tracker = tracker
        self.counters = counters
        self.budget = budget
        self.logger = logger
    }

    /// The relay handler of a freshly accepted client channel: it calls `serve` once the
    /// channel is active and becomes the client side of the relay.
    func makeClientRelay() -> GlueHandler {
        GlueHandler.awaitingBackend(counters: counters) { [self] client, relay in
            serve(client, relay: NIOLoopBound(relay, eventLoop: client.eventLoop))
        }
    }

    /// Starts serving `client`, a freshly accepted, active channel with `autoRead` off; call on
    /// its loop.
    ///
    /// Over the descriptor budget the client is closed at once (it sees EOF, as with no
    /// endpoints) rather than left to exhaust the process's descriptors.
    func serve(_ client: any Channel, relay: NIOLoopBound<GlueHandler>) {
        guard budget.tryAcquire(Self.descriptorsPerConnection) else {
            counters.connectFailed()
            refuse(client)
            return
        }
        tracker.register(client)
        counters.connectionAccepted()
        // Both descriptors are given back with the client; its backend closes with it (glue).
        client.closeFuture.whenComplete { [counters, budget] _ in
            counters.connectionClosed()
            budget.release(Self.descriptorsPerConnection)
        }
        attempt(0, client: client, relay: relay, clientIP: IPAddress(socketAddress: client.remoteAddress))
    }

    private func attempt(
        _ number: Int, client: any Channel, relay: NIOLoopBound<GlueHandler>, clientIP: IPAddress?
    ) {
        if number > 0 { counters.connectRetried() }
        // The balancer is a short lock, not a hop: the choice and the dial stay on the client's loop.
        guard let endpoint = balancer.choose(clientIP: clientIP, resetAffinity: number > 0) else {
            fail(client, .noEndpoints)
            return
        }
        dialer.connect(to: endpoint, on: client.eventLoop, timeout: dialTimeouts[number])
            .hop(to: client.eventLoop)  // free when the dialer kept its contract
            .whenComplete { [self] result in
                switch result {
                case .success(let backend):
                    glue(client, backend, relay: relay.value)
                case .failure(let error):
                    logger.debug(
                        "dial failed",
                        metadata: [
                            "service": "\(name)", "endpoint": "\(endpoint)", "attempt": "\(number + 1)",
                            "error": "\(error)",
                        ]
                    )
                    if number + 1 < dialTimeouts.count {
                        attempt(number + 1, client: client, relay: relay, clientIP: clientIP)
                    } else {
                        fail(client, .dialsExhausted(attempts: number + 1, lastError: "\(error)"))
                    }
                }
            }
    }

    /// Adds the relay pair and starts reading on both sides; runs on the client's loop.
    private func glue(_ client: any Channel, _ backend: any Channel, relay clientSide: GlueHandler) {
        tracker.register(backend)
        guard client.isActive, backend.eventLoop === client.eventLoop else {
            // The client left while we dialled (or a dialer broke its contract): nothing to relay.
            client.close(promise: nil)
            backend.close(promise: nil)
            return
        }
        do {
            try backend.pipeline.syncOperations.addHandler(clientSide.makeBackendPartner())
        } catch {
            logger.debug("relay setup failed", metadata: ["service": "\(name)", "error": "\(error)"])
            client.close(promise: nil)
            backend.close(promise: nil)
            return
        }
        client.read()
        backend.read()
    }

    /// Client and backend socket.
    static let descriptorsPerConnection = 2

    private func refuse(_ client: any Channel) {
        if budget.shouldWarn(nowNanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) {
            logger.warning(
                "descriptor reserve reached; closing new connections at once",
                metadata: [
                    "service": "\(name)", "inUse": "\(budget.inUse)", "ceiling": "\(budget.ceiling)",
                    "limit": "\(budget.limit)",
                ]
            )
        }
        client.close(promise: nil)
    }

    private func fail(_ client: any Channel, _ kind: DataPlaneError.Kind) {
        counters.connectFailed()
        let error = DataPlaneError(name: name, address: listenAddress, kind: kind)
        logger.debug(
            "closing client connection",
            metadata: ["client": "\(client.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"]
        )
        client.close(promise: nil)
    }
}
