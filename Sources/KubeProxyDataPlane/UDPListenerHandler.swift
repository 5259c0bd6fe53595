import KubeProxyCore
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Serves the listening socket of one UDP service port: keeps its `UDPSessionTable`, opens a
/// connected socket per client session, forwards client datagrams and sends the replies back
/// from this socket (docs/userspace-behaviour.md#udp-sessions).
///
/// Replies leave from the listening socket, so their source is the proxy port and conntrack
/// un-NATs them back to the service address the client used. Every session's backend
/// socket lives on this channel's event loop, so the table needs no lock and a backend's
/// `UDPBackendHandler` calls straight into this handler.
///
/// Back-pressure: UDP has none on the wire, so a datagram whose destination socket is not
/// writable is dropped (and counted) instead of queued; memory stays bounded by NIO's write
/// buffer high-water mark per socket.
final class UDPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    /// The session table, holding each open session's backend channel.
    typealias Table = UDPSessionTable<any Channel>

    private let name: ServicePortName
    private let listenAddress: IPAddress
    private let balancer: ServiceBalancer
    private let counters: ListenerCounters
    private let budget: DescriptorBudget
    private let logger: Logger
    private var table: Table
    private var context: ChannelHandlerContext?
    private var sweep: Scheduled<Void>?
    private var hasUnflushedReplies = false

    /// Creates the handler of one service port's listening socket.
    init(
        name: ServicePortName,
        listenAddress: IPAddress,
        balancer: ServiceBalancer,
        counters: ListenerCounters,
        settings: UDPSessionSettings,
        budget: DescriptorBudget,
        logger: Logger
    ) {
        self.name = name
        self.listenAddress = listenAddress
        self.balancer = balancer
        self.counters = counters
        self.budget = budget
        self.logger = logger
        self.table = Table(settings: settings)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeSessions()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The service port was removed (or the proxy shuts down): every session ends with it.
        closeSessions()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = unwrapInboundIn(data)
        let client = received.remoteAddress
        // First: the received bytes live in the loop's shared region (`UDPReceiveBuffer`).
        let datagram = UDPReceiveBuffer.copyOut(received.data, using: context.channel.allocator)
        switch table.clientDatagram(from: client, datagram, now: .now()) {
        case .forward(let backend):
            send(datagram, to: backend)
        case .openSession(let id):
            openSession(id, client: client, on: context.eventLoop)
        case .held:
            break
        case .drop(let reason):
            dropped(reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO keeps a datagram channel open on errors it can recover from (ECONNREFUSED after an
        // ICMP error for a reply to a vanished client, ENOMEM) and closes it on the others.
        logger.debug("UDP listener error", metadata: ["service": "\(name)", "error": "\(error)"])
    }

    // MARK: Called by the sessions' backend handlers (same event loop).

    /// A reply arrived on the socket of session `id` of `client`.
    func relayReply(_ datagram: ByteBuffer, client: SocketAddress, id: Table.SessionID) {
        guard let context, table.backendDatagram(client: client, id: id, now: .now()),
            context.channel.isWritable
        else {
            counters.droppedDatagrams()
            return
        }
        counters.relayed(.backendToClient, bytes: datagram.readableBytes)
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: datagram)), promise: nil)
        hasUnflushedReplies = true
    }

    /// A backend socket finished a read burst: send the replies written meanwhile.
    func flushReplies() {
        guard hasUnflushedReplies else { return }
        hasUnflushedReplies = false
        context?.flush()
    }

    /// The socket of session `id` of `client` closed.
    func backendClosed(client: SocketAddress, id: Table.SessionID) {
        table.sessionEnded(client: client, id: id)
        counters.setUDPSessions(table.count)
    }

    // MARK: Sessions

    private func openSession(_ id: Table.SessionID, client: SocketAddress, on loop: any EventLoop) {
        guard budget.tryAcquire(1) else {
            // The session's socket would eat into the descriptors the rest of the process needs.
            counters.droppedDatagrams(table.sessionFailed(client: client, id: id))
            counters.setUDPSessions(table.count)
            counters.connectFailed()
            warnDescriptorsExhausted()
            return
        }
        counters.setUDPSessions(table.count)
        scheduleSweep(on: loop)
        let (name, listenAddress, budget) = (self.name, self.listenAddress, self.budget)
        let connected: EventLoopFuture<any Channel>
        if let endpoint = balancer.choose(clientIP: IPAddress(socketAddress: client), resetAffinity: false) {
            connected = Self.connectBackend(to: endpoint, on: loop)
        } else {
            connected = loop.makeFailedFuture(DataPlaneError(name: name, address: listenAddress, kind: .noEndpoints))
        }
        connected
            .always { result in
                // The descriptor is counted until the session's socket closes, whoever closes it.
                switch result {
                case .success(let backend): backend.closeFuture.whenComplete { _ in budget.release(1) }
                case .failure: budget.release(1)
                }
            }
            .hop(to: loop)
            .assumeIsolated()
            .whenComplete { result in
                self.sessionConnected(id, client: client, result)
            }
    }

    private func sessionConnected(
        _ id: Table.SessionID,
        client: SocketAddress,
        _ result: Result<any Channel, any Error>
    ) {
        defer { counters.setUDPSessions(table.count) }
        switch result {
        case .success(let backend):
            switch table.sessionOpened(client: client, id: id, backend: backend, now: .now()) {
            case .discard:
                backend.close(promise: nil)
            case .send(let pending):
                do {
                    let handler = UDPBackendHandler(listener: self, client: client, id: id)
                    try backend.pipeline.syncOperations.addHandler(handler)
                } catch {
                    table.sessionEnded(client: client, id: id)
                    counters.droppedDatagrams(pending.count)
                    backend.close(promise: nil)
                    return
                }
                counters.udpSessionOpened()
                for datagram in pending {
                    send(datagram, to: backend)
                }
            }
        case .failure(let error):
            counters.connectFailed()
            counters.droppedDatagrams(table.sessionFailed(client: client, id: id))
            let reason: String
            if let error = error as? DataPlaneError, error.kind == .noEndpoints {
                reason = "no endpoints"
            } else {
                reason = "\(error)"
            }
            logger.debug(
                "UDP datagram dropped",
                metadata: ["service": "\(name)", "client": "\(client)", "reason": "\(reason)"]
            )
        }
    }

    /// A connected UDP socket to `endpoint` on `loop` (the listener's loop). Reads start at once;
    /// nothing arrives before the first datagram is sent, which happens after the session's
    /// handler is added in the same event-loop tick that completes this future.
    private static func connectBackend(
        to endpoint: EndpointAddress,
        on loop: any EventLoop
    ) -> EventLoopFuture<any Channel> {
        let address: SocketAddress
        do {
            address = try endpoint.ip.socketAddress(port: endpoint.port)
        } catch {
            return loop.makeFailedFuture(error)
        }
        return DatagramBootstrap(group: loop)
            .channelOption(.recvAllocator, value: UDPReceiveBuffer.receiveAllocator)
            .connect(to: address)
    }

    private func send(_ datagram: ByteBuffer, to backend: any Channel) {
        guard backend.isWritable else {
            counters.droppedDatagrams()
            return
        }
        counters.relayed(.clientToBackend, bytes: datagram.readableBytes)
        backend.writeAndFlush(datagram, promise: nil)
    }

    private func dropped(_ reason: Table.DropReason) {
        counters.droppedDatagrams()
        guard case .tableFull(warn: true) = reason else { return }
        let limit = table.settings.sessionLimit
        logger.warning(
            "UDP session table of \(name) is full (\(limit) sessions); dropping datagrams of new clients",
            metadata: ["service": "\(name)", "limit": "\(limit)"]
        )
    }

    private func warnDescriptorsExhausted() {
        guard budget.shouldWarn(nowNanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) else { return }
        logger.warning(
            "descriptor reserve reached; dropping datagrams of new UDP clients",
            metadata: [
                "service": "\(name)", "inUse": "\(budget.inUse)", "ceiling": "\(budget.ceiling)",
                "limit": "\(budget.limit)",
            ]
        )
    }

    // MARK: Expiry

    private func scheduleSweep(on loop: any EventLoop) {
        guard sweep == nil else { return }
        sweep = loop.assumeIsolated().scheduleTask(in: table.settings.sweepInterval) {
            self.sweep = nil
            self.finish(self.table.expire(now: .now()))
            if self.table.count > 0 { self.scheduleSweep(on: loop) }
        }
    }

    private func closeSessions() {
        sweep?.cancel()
        sweep = nil
        finish(table.close())
    }

    /// Closes the sockets of ended sessions and accounts for their lost datagrams.
    private func finish(_ ended: Table.Expired) {
        for backend in ended.backends {
            backend.close(promise: nil)
        }
        counters.droppedDatagrams(ended.droppedDatagrams)
        counters.setUDPSessions(table.count)
        if ended.backends.count >= Self.trimThreshold, let loop = context?.eventLoop {
            // After a flood has expired, give the freed session memory back to the system once
            // the closed channels are gone (a tick later), not only to the allocator.
            loop.scheduleTask(in: .milliseconds(100)) { Self.trimHeap() }
        }
    }

    /// How many sessions must end in one sweep before the heap is trimmed.
    static let trimThreshold = 256

    /// Returns free heap pages to the system (glibc's `malloc_trim`); a no-op where the C
    /// library has none (looked up at run time: Swift's Glibc module does not import malloc.h).
    static func trimHeap() {
        _ = mallocTrim?(0)
    }

    private typealias MallocTrim = @convention(c) (Int) -> Int32

    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
            return nil
        #endif
    }()
}
