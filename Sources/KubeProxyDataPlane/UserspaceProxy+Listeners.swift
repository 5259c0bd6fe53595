import KubeProxyCore
import NIOCore
import NIOPosix

extension UserspaceProxy {
    /// At most this many ports of a range are tried for one listener when binds fail with
    /// `EADDRINUSE` (ports taken by other programs); bounded so one apply stays quick.
    static let maximumBindAttempts = 8

    /// Opens a listener for a port that has none; `nil` when nothing changed worth reporting
    /// (an unsupported protocol already reported).
    func start(_ desired: ProxiedPort) async -> DataPlaneChange? {
        let name = desired.name
        if let reason = UserspaceProxy.unsupportedReason(name.protocol) {
            let status = ListenerStatus.unsupported(reason: reason)
            defer { statuses[name] = status }
            guard statuses[name] != status else { return nil }
            return change(.unsupported, name, port: nil, endpoints: 0, reason: reason)
        }
        let balancer = ServiceBalancer(eventLoop: group.next(), sessionAffinity: desired.sessionAffinity)
        let counters = ListenerCounters()
        do {
            balancer.update(endpoints: desired.endpoints, sessionAffinity: desired.sessionAffinity)
            let (listener, allocated) = try await openListener(desired, balancer: balancer, counters: counters)
            descriptors.acquire(1)
            activePerProtocol[name.protocol, default: 0] += 1
            active[name] = Active(
                endpoints: desired.endpoints, sessionAffinity: desired.sessionAffinity, listener: listener,
                allocatedPort: allocated, counters: counters,
                affinityCleanup: affinityCleanup(desired.sessionAffinity, balancer)
            )
            statuses[name] = .listening(port: listener.localPort)
            return change(.started, name, port: listener.localPort, endpoints: balancer.endpointCount)
        } catch {
            let reason = "\(error)"
            statuses[name] = .failed(reason: reason)
            return change(.failed, name, port: nil, endpoints: 0, reason: reason)
        }
    }

    /// Applies new endpoints or affinity to an open listener; `nil` when neither changed as a set.
    func update(_ desired: ProxiedPort) async -> DataPlaneChange? {
        guard var entry = active[desired.name] else { return nil }
        let unchanged =
            entry.sessionAffinity == desired.sessionAffinity
            && entry.endpoints.sorted() == desired.endpoints.sorted()
        guard !unchanged else { return nil }
        let balancer = entry.listener.balancer
        balancer.update(endpoints: desired.endpoints, sessionAffinity: desired.sessionAffinity)
        if (entry.sessionAffinity == .none) != (desired.sessionAffinity == .none) {
            entry.affinityCleanup?.cancel()
            entry.affinityCleanup = affinityCleanup(desired.sessionAffinity, balancer)
        }
        entry.endpoints = desired.endpoints
        entry.sessionAffinity = desired.sessionAffinity
        active[desired.name] = entry
        return change(.updated, desired.name, port: entry.listener.localPort, endpoints: balancer.endpointCount)
    }

    /// The periodic pin cleanup of a port with ClientIP `affinity`; `nil` without affinity.
    private func affinityCleanup(_ affinity: SessionAffinity, _ balancer: ServiceBalancer) -> RepeatedTask? {
        guard case .clientIP = affinity else { return nil }
        return balancer.removeStaleAffinity(every: affinityCleanupInterval)
    }

    /// Whether `name`'s listener runs the periodic pin cleanup (tests).
    func hasAffinityCleanup(_ name: ServicePortName) -> Bool {
        active[name]?.affinityCleanup != nil
    }

    /// Closes the listener of `name` and gives its port back. The change reports the endpoint
    /// count the port had, so the "stopped" log line tells what went away with it.
    func stop(_ name: ServicePortName) async -> DataPlaneChange {
        guard let entry = active.removeValue(forKey: name) else {
            return DataPlaneChange(kind: .stopped, name: name, listenAddress: bindAddress, port: nil, endpointCount: 0)
        }
        statuses[name] = nil
        activePerProtocol[name.protocol, default: 1] -= 1
        entry.affinityCleanup?.cancel()
        let count = entry.listener.balancer.endpointCount
        await entry.listener.close()
        descriptors.release(1)
        allocator.release(entry.allocatedPort)
        return change(.stopped, name, port: entry.listener.localPort, endpoints: count)
    }

    /// Binds the preferred port when one is given and usable, else allocates a port and binds it,
    /// moving on to another port of the range while binds fail with `EADDRINUSE`; every port
    /// that failed is released before returning.
    func openListener(
        _ desired: ProxiedPort,
        balancer: ServiceBalancer,
        counters: ListenerCounters
    ) async throws(DataPlaneError) -> (any ServicePortListener, allocated: Int) {
        let name = desired.name
        if let preferred = desired.preferredPort,
            let opened = await openPreferred(name, port: preferred, balancer: balancer, counters: counters)
        {
            return opened
        }
        var busyPorts: [Int] = []
        defer { busyPorts.forEach { allocator.release($0) } }
        var lastBusy: DataPlaneError?
        for _ in 0..<UserspaceProxy.maximumBindAttempts {
            guard let port = allocator.allocate() else { break }
            do {
                return (try await bind(name, port: port, balancer: balancer, counters: counters), port)
            } catch let error as IOError where error.errnoCode == EADDRINUSE && !allocator.isKernelPicked {
                busyPorts.append(port)
                lastBusy = bindError(name, port: port, error)
            } catch {
                allocator.release(port)
                throw bindError(name, port: port, error)
            }
        }
        // Only range mode gets here: kernel mode always allocates port 0 and never retries.
        if let lastBusy { throw lastBusy }
        guard let range = allocator.range else {
            throw bindError(name, port: 0, ChannelError.inappropriateOperationForState)
        }
        throw DataPlaneError(name: name, address: bindAddress, kind: .portRangeExhausted(range))
    }

    /// Tries the port a previous run listened on (restart without an outage): inside the range
    /// when one is configured (and then reserved in the allocator), any valid port otherwise.
    /// `nil` when it is unusable or its bind fails; the caller then allocates as usual.
    private func openPreferred(
        _ name: ServicePortName,
        port: Int,
        balancer: ServiceBalancer,
        counters: ListenerCounters
    ) async -> (any ServicePortListener, allocated: Int)? {
        let usable: Bool
        if allocator.isKernelPicked {
            usable = (1...PortRange.maximumPort).contains(port)
        } else {
            usable = allocator.reserve(port)
        }
        guard usable else {
            let reason = "outside the proxy port range or already in use by another listener"
            logPreferredPortUnused(name, port: port, reason: reason)
            return nil
        }
        let allocated = allocator.isKernelPicked ? 0 : port
        do {
            return (try await bind(name, port: port, balancer: balancer, counters: counters), allocated)
        } catch {
            allocator.release(allocated)
            logPreferredPortUnused(name, port: port, reason: "\(error)")
            return nil
        }
    }

    private func logPreferredPortUnused(_ name: ServicePortName, port: Int, reason: String) {
        logger.info(
            "preferred proxy port not used; allocating another",
            metadata: [
                "servicePort": "\(name)", "protocol": "\(name.protocol)", "port": "\(port)", "reason": "\(reason)",
            ]
        )
    }

    /// Opens the listener of `name`'s protocol on `bindAddress:port` (`start` turns SCTP away).
    private func bind(
        _ name: ServicePortName,
        port: Int,
        balancer: ServiceBalancer,
        counters: ListenerCounters
    ) async throws -> any ServicePortListener {
        let address = try bindAddress.socketAddress(port: port)
        switch name.protocol {
        case .tcp:
            #if canImport(Glibc)
                if let relay {
                    let context = RelayListenerContext(
                        name: name, listenAddress: bindAddress, balancer: balancer, counters: counters,
                        budget: descriptors, dial: relay.dial, logger: logger)
                    return try RelayTCPListener.open(address: address, group: relay, context: context, keepalive: keepalive)
                }
            #endif
            let connector = BackendConnector(
                name: name, listenAddress: bindAddress, balancer: balancer, dialer: dialer,
                dialTimeouts: dialTimeouts, tracker: tracker, counters: counters, budget: descriptors, logger: logger
            )
            return try await TCPListener.open(
                address: address, loops: eventLoops, connector: connector, keepalive: keepalive
            )
        case .udp:
            return try await UDPListener.open(
                address: address, name: name, listenAddress: bindAddress, balancer: balancer, counters: counters,
                settings: udpSettings, budget: descriptors, logger: logger
            )
        case .sctp:
            throw ChannelError.operationUnsupported
        }
    }

    private func bindError(_ name: ServicePortName, port: Int, _ error: any Error) -> DataPlaneError {
        let errno = (error as? IOError)?.errnoCode
        let kind = DataPlaneError.Kind.bindFailed(port: port, errno: errno, detail: "\(error)")
        return DataPlaneError(name: name, address: bindAddress, kind: kind)
    }

    /// Why a protocol has no listener, `nil` when it is supported.
    static func unsupportedReason(_ transport: TransportProtocol) -> String? {
        switch transport {
        case .tcp, .udp: return nil
        case .sctp: return "SCTP is not supported for user space proxy"
        }
    }

    private func change(
        _ kind: DataPlaneChange.Kind,
        _ name: ServicePortName,
        port: Int?,
        endpoints: Int,
        reason: String = ""
    ) -> DataPlaneChange {
        DataPlaneChange(
            kind: kind, name: name, listenAddress: bindAddress, port: port,
            endpointCount: endpoints, reason: reason
        )
    }
}
