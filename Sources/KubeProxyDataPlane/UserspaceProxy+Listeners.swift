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
            return change(.unsupported, desired, port: nil, endpoints: 0, reason: reason)
        }
        let balancer = ServiceBalancer(eventLoop: group.next(), sessionAffinity: desired.sessionAffinity)
        do {
            try await balancer.update(endpoints: desired.endpoints, sessionAffinity: desired.sessionAffinity).get()
            let (listener, allocated) = try await openListener(name, balancer: balancer)
            active[name] = Active(desired: desired, listener: listener, allocatedPort: allocated)
            statuses[name] = .listening(port: listener.localPort)
            let count = (try? await balancer.endpointCount().get()) ?? 0
            return change(.started, desired, port: listener.localPort, endpoints: count)
        } catch {
            let reason = "\(error)"
            statuses[name] = .failed(reason: reason)
            return change(.failed, desired, port: nil, endpoints: 0, reason: reason)
        }
    }

    /// Applies new endpoints or affinity to an open listener; `nil` when neither changed as a set.
    func update(_ desired: ProxiedPort) async -> DataPlaneChange? {
        guard var entry = active[desired.name] else { return nil }
        let unchanged = entry.desired.sessionAffinity == desired.sessionAffinity
            && entry.desired.endpoints.sorted() == desired.endpoints.sorted()
        guard !unchanged else { return nil }
        let balancer = entry.listener.balancer
        try? await balancer.update(endpoints: desired.endpoints, sessionAffinity: desired.sessionAffinity).get()
        entry.desired = desired
        active[desired.name] = entry
        let count = (try? await balancer.endpointCount().get()) ?? 0
        return change(.updated, desired, port: entry.listener.localPort, endpoints: count)
    }

    /// Closes the listener of `name` and gives its port back.
    func stop(_ name: ServicePortName) async -> DataPlaneChange {
        guard let entry = active.removeValue(forKey: name) else {
            return DataPlaneChange(kind: .stopped, name: name, listenAddress: bindAddress, port: nil, endpointCount: 0)
        }
        statuses[name] = nil
        await entry.listener.close()
        allocator.release(entry.allocatedPort)
        return change(.stopped, entry.desired, port: entry.listener.localPort, endpoints: 0)
    }

    /// Allocates a port and binds it, moving on to another port of the range while binds fail
    /// with `EADDRINUSE`; every port that failed is released before returning.
    func openListener(
        _ name: ServicePortName,
        balancer: ServiceBalancer
    ) async throws(DataPlaneError) -> (any ServicePortListener, allocated: Int) {
        var busyPorts: [Int] = []
        defer { busyPorts.forEach { allocator.release($0) } }
        var lastBusy: DataPlaneError?
        for _ in 0..<UserspaceProxy.maximumBindAttempts {
            guard let port = allocator.allocate() else { break }
            do {
                return (try await bind(name, port: port, balancer: balancer), port)
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

    /// Opens the listener on `bindAddress:port`. Only TCP reaches here (`start` turns the other
    /// protocols away); a UDP listener plugs in by switching on `name.protocol` at this point.
    private func bind(
        _ name: ServicePortName,
        port: Int,
        balancer: ServiceBalancer
    ) async throws -> any ServicePortListener {
        let address = try bindAddress.socketAddress(port: port)
        let connector = BackendConnector(
            name: name, listenAddress: bindAddress, balancer: balancer, dialer: dialer,
            dialTimeouts: dialTimeouts, tracker: tracker, logger: logger
        )
        return try await TCPListener.open(address: address, childGroup: group, connector: connector)
    }

    private func bindError(_ name: ServicePortName, port: Int, _ error: any Error) -> DataPlaneError {
        let errno = (error as? IOError)?.errnoCode
        let kind = DataPlaneError.Kind.bindFailed(port: port, errno: errno, detail: "\(error)")
        return DataPlaneError(name: name, address: bindAddress, kind: kind)
    }

    /// Why a protocol has no listener, `nil` when it is supported.
    static func unsupportedReason(_ transport: TransportProtocol) -> String? {
        switch transport {
        case .tcp: return nil
        case .udp: return "UDP is not implemented yet"
        case .sctp: return "SCTP is not supported for user space proxy"
        }
    }

    private func change(
        _ kind: DataPlaneChange.Kind,
        _ desired: ProxiedPort,
        port: Int?,
        endpoints: Int,
        reason: String = ""
    ) -> DataPlaneChange {
        DataPlaneChange(
            kind: kind, name: desired.name, listenAddress: bindAddress, port: port,
            endpointCount: endpoints, reason: reason
        )
    }
}
