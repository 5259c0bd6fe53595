import KubeProxyCore
import NIOCore
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// Listener lifecycle of `UserspaceProxy`: ports from a range, retries, updates in place,
/// unsupported protocols, shutdown.
@Suite("UserspaceProxy listeners", .timeLimit(.minutes(1)))
struct UserspaceProxyListenerTests {
    typealias T = UserspaceProxyTests

    struct NoFreeRange: Error {}

    /// Three consecutive free ports on 127.0.0.1 below the kernel's ephemeral range, so parallel
    /// tests that let the kernel pick cannot take them.
    static func freeRange() async throws -> PortRange {
        for _ in 0..<20 {
            let first = Int.random(in: 20000..<30000)
            var probes: [any Channel] = []
            for port in first...(first + 2) {
                if let probe = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: port)).get()
                {
                    probes.append(probe)
                }
            }
            for probe in probes { try? await probe.close() }
            if probes.count == 3 { return try PortRange(first: first, last: first + 2) }
        }
        throw NoFreeRange()
    }

    static func ports(_ names: [String]) -> [ServicePortName: ProxiedPort] {
        Dictionary(uniqueKeysWithValues: names.map { (T.service($0), ProxiedPort(name: T.service($0), endpoints: [])) })
    }

    /// AT-PA-range: three listeners get exactly the three ports; a fourth is unserved with a
    /// clear reason; once a port is freed the failed one gets it on the next apply.
    @Test func portRangeIsUsedExactlyAndFreedPortsAreReused() async throws {
        let range = try await Self.freeRange()
        let proxy = T.proxy(range: range)
        _ = await proxy.apply(Self.ports(["a", "b", "c"]))
        let ports = await proxy.status().values.compactMap(\.port)
        #expect(Set(ports) == Set(range.first...range.last))

        // The fourth does not fit the range: not attempted, reported as unserved (no per-port change).
        let fourth = await proxy.apply(Self.ports(["a", "b", "c", "d"]))
        #expect(fourth.isEmpty)
        let expected = "proxy port range \(range) is exhausted (3 ports)"
        #expect(await proxy.status()[T.service("d")] == .unserved(reason: expected))
        #expect(await proxy.unservedPorts() == UnservedPorts(names: [T.service("d")], reason: expected))

        let freed = try await T.listeningPort(proxy, T.service("a"))
        let retried = await proxy.apply(Self.ports(["b", "c", "d"]))
        #expect(retried.map(\.kind) == [.stopped, .started])
        #expect(retried.last?.port == freed)
        #expect(await proxy.status()[T.service("d")] == .listening(port: freed))
        #expect(await proxy.status()[T.service("a")] == nil)
        await proxy.shutdown()
    }

    /// With `changed`, an apply looks only at the named ports and at those still waiting for
    /// a listener: an unnamed difference is the caller's promise broken and goes unseen, a
    /// named one applies, and an unserved port is retried although nothing names it.
    @Test func anIncrementalApplyLooksAtTheChangedAndTheWaitingPortsOnly() async throws {
        let range = try await Self.freeRange()
        let proxy = T.proxy(range: range)
        var desired = Self.ports(["a", "b", "c", "d"])
        let first = await proxy.apply(desired, changed: nil)
        #expect(first.map(\.kind) == [.started, .started, .started])
        #expect(await proxy.status()[T.service("d")]?.port == nil, "unserved: the range has three ports")

        let endpoint = EndpointAddress(ip: IPAddress("127.0.0.1")!, port: 9)
        desired[T.service("b")] = ProxiedPort(name: T.service("b"), endpoints: [endpoint])
        #expect(await proxy.apply(desired, changed: []).isEmpty)
        #expect(await proxy.apply(desired, changed: [T.service("b")]).map(\.kind) == [.updated])

        // Removing "a" frees a port; "d" is retried without being named and takes it.
        let freed = try await T.listeningPort(proxy, T.service("a"))
        desired[T.service("a")] = nil
        let moved = await proxy.apply(desired, changed: [T.service("a")])
        #expect(moved.map(\.kind) == [.stopped, .started])
        #expect(moved.map(\.name) == [T.service("a"), T.service("d")])
        #expect(await proxy.status()[T.service("d")] == .listening(port: freed))
        #expect(await proxy.listenerPorts(of: [T.service("d"), T.service("a")]) == [T.service("d"): freed])
        #expect(await proxy.unservedPorts() == nil)
        await proxy.shutdown()
    }

    /// A range port taken by another program is skipped and not leaked (upstream leaked it).
    @Test func busyRangePortIsSkippedAndNotLeaked() async throws {
        let range = try await Self.freeRange()
        let busyPort = range.first + 1
        let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: busyPort)).get()
        let proxy = T.proxy(range: range)
        let changes = await proxy.apply(Self.ports(["a", "b", "c"]))
        // Listeners open concurrently, so which service port meets the busy port varies.
        #expect(changes.filter { $0.kind == .started }.count == 2)
        let failed = changes.filter { $0.kind == .failed }
        // The loser either met the busy port itself or found the range used up while another
        // open still held the busy port for its retry.
        let reason = failed.first?.reason ?? ""
        #expect(failed.count == 1 && (reason.contains("port \(busyPort)") || reason.contains("no free port left")), "\(reason)")
        let listening = await proxy.status().values.compactMap(\.port)
        #expect(Set(listening) == [range.first, range.last])

        try await squatter.close()
        let retried = await proxy.apply(Self.ports(["a", "b", "c"]))
        #expect(retried.map(\.kind) == [.started])
        #expect(retried.first?.port == busyPort)
        await proxy.shutdown()
    }

    /// The listener belongs to the service port: endpoint and affinity changes keep it.
    @Test func updatesKeepTheListener() async throws {
        let a = try await TestBackend.greeter("a")
        let b = try await TestBackend.greeter("b")
        let proxy = T.proxy()
        let svc = T.service("keep")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        #expect(await proxy.hasAffinityCleanup(svc) == false)

        let grown = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint, b.endpoint])))
        let expected = DataPlaneChange(
            kind: .updated, name: svc, listenAddress: IPAddress("127.0.0.1")!, port: port, endpointCount: 2
        )
        #expect(grown == [expected])
        let reordered = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [b.endpoint, a.endpoint])))
        #expect(reordered.isEmpty)
        let sticky = ProxiedPort(
            name: svc, sessionAffinity: .clientIP(timeoutSeconds: 5), endpoints: [b.endpoint, a.endpoint]
        )
        #expect(await proxy.apply(T.desired(sticky)).map(\.kind) == [.updated])
        #expect(try await T.listeningPort(proxy, svc) == port)
        #expect(try await TestClient.firstLine(port: port) != nil)
        // Expired pins are swept by a timer only while the port has ClientIP affinity.
        #expect(await proxy.hasAffinityCleanup(svc))
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        #expect(await proxy.hasAffinityCleanup(svc) == false)
        await proxy.shutdown()
        await a.close()
        await b.close()
    }

    @Test func sctpIsReportedUnsupportedOnceWhileTCPAndUDPListen() async throws {
        let proxy = T.proxy()
        let tcp = T.service("dns", .tcp)
        let udp = T.service("dns", .udp)
        let sctp = T.service("dns", .sctp)
        let all = T.desired(
            ProxiedPort(name: tcp, endpoints: []), ProxiedPort(name: udp, endpoints: []),
            ProxiedPort(name: sctp, endpoints: [])
        )
        let first = await proxy.apply(all)
        let kinds = Set(first.map { "\($0.name.protocol) \($0.kind)" })
        #expect(kinds == ["TCP started", "UDP started", "SCTP unsupported"])
        let status = await proxy.status()
        #expect(status[sctp] == .unsupported(reason: "SCTP is not supported for user space proxy"))
        #expect(status[tcp]?.port != nil)
        #expect(status[udp]?.port != nil)
        #expect(await proxy.apply(all).isEmpty)

        let withoutSCTP = await proxy.apply(
            T.desired(ProxiedPort(name: tcp, endpoints: []), ProxiedPort(name: udp, endpoints: []))
        )
        #expect(withoutSCTP.isEmpty)
        #expect(await proxy.status().keys.sorted() == [tcp, udp])
        await proxy.shutdown()
    }

    @Test func shutdownClosesListenersAndConnections() async throws {
        let a = try await TestBackend.greeter("a")
        let proxy = T.proxy()
        let svc = T.service("bye")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let (greeting, afterShutdown) = try await TestClient.withSession(port: port) { session in
            let greeting = try await session.line()
            await proxy.shutdown()
            return (greeting, try await session.rest())
        }
        #expect(greeting == "a")
        #expect(afterShutdown == "")
        #expect(await TestClient.isRefused(port: port))
        #expect(try await eventually { await proxy.openChannelCount() == 0 })
        #expect(await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: []))).isEmpty)
        #expect(await proxy.status().isEmpty)
        await a.close()
    }

    @Test func changeDescriptionsAreLogLines() throws {
        let svc = T.service("web")
        let v6 = IPAddress("::")!
        let started = DataPlaneChange(kind: .started, name: svc, listenAddress: v6, port: 34567, endpointCount: 1)
        #expect(started.description == "started proxy for test/web:p (TCP) on [::]:34567 with 1 endpoint")
        let failed = DataPlaneChange(
            kind: .failed, name: svc, listenAddress: IPAddress("0.0.0.0")!, port: nil, endpointCount: 0, reason: "boom"
        )
        #expect(failed.description == "failed to start proxy for test/web:p (TCP) on 0.0.0.0: boom")
    }
}
