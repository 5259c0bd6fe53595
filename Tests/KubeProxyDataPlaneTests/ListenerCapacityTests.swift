import KubeProxyCore
import KubeProxyTesting
import NIOPosix
import Testing

@testable import KubeProxyDataPlane

/// `ListenerCapacity` (how many listeners fit) and the proxy's admission of listeners: ports
/// beyond the capacity are not opened, reported once per change, and opened once room frees up.
@Suite("Listener capacity", .timeLimit(.minutes(1)))
struct ListenerCapacityTests {
    typealias T = UserspaceProxyTests

    @Test func descriptorShareKeepsAQuarterForConnections() {
        // limit 400: reserve 192, ceiling 208, a quarter (52) for connections, 156 listeners.
        let capacity = ListenerCapacity(descriptorLimit: 400, reserve: 192, portRange: nil, ephemeralPorts: nil)
        #expect(capacity.connectionShare == 52)
        #expect(capacity.descriptorListeners == 156)
        #expect(capacity.admit(total: 155, sameProtocol: 155) == nil)
        let refused = capacity.admit(total: 156, sameProtocol: 0)
        #expect(refused == .descriptors(limit: 400, reserve: 192, connectionShare: 52, listeners: 156))
        #expect(
            refused?.description == "descriptor limit 400 (reserve 192, 52 kept for connections) allows 156 listeners")
    }

    @Test func portRangeBoundsAllProtocolsTogether() throws {
        let range = try PortRange(first: 30000, last: 30009)
        let capacity = ListenerCapacity(
            descriptorLimit: 20000, reserve: 1024, portRange: range, ephemeralPorts: 32768...60999)
        #expect(capacity.ephemeralPorts == nil, "a configured range replaces the ephemeral range")
        #expect(capacity.admit(total: 9, sameProtocol: 0) == nil)
        #expect(capacity.admit(total: 10, sameProtocol: 0) == .portRange(range))
    }

    @Test func ephemeralRangeBoundsEachProtocolSeparately() {
        let capacity = ListenerCapacity(
            descriptorLimit: 1 << 20, reserve: 1024, portRange: nil, ephemeralPorts: 60000...60099)
        #expect(capacity.portsDescription == "ephemeral 60000-60099 (100 per protocol)")
        #expect(capacity.admit(total: 150, sameProtocol: 99) == nil)
        #expect(capacity.admit(total: 150, sameProtocol: 100) == .ephemeralPorts(60000...60099))
        #expect(
            capacity.admit(total: 150, sameProtocol: 100)?.description
                == "kernel ephemeral port range 60000-60099 is exhausted (100 ports)")
    }

    @Test func parsesTheProcEphemeralRange() {
        #expect(ListenerCapacity.parseEphemeralRange("32768\t60999\n") == 32768...60999)
        #expect(ListenerCapacity.parseEphemeralRange("1024 65535") == 1024...65535)
        #expect(ListenerCapacity.parseEphemeralRange("60999 32768") == nil)
        #expect(ListenerCapacity.parseEphemeralRange("garbage") == nil)
        #expect(ListenerCapacity.parseEphemeralRange("1 2 3") == nil)
    }

    @Test func summaryNamesTwentyAndCountsTheRest() {
        let names = (0..<25).map { ServicePortName(namespace: "ns", name: "s" + ($0 < 10 ? "0" : "") + "\($0)", port: "p") }
        let summary = UnservedPorts(names: names, reason: "why").description
        #expect(summary.hasPrefix("25 service ports not served (why): ns/s00:p, ns/s01:p"))
        #expect(summary.contains("ns/s19:p and 5 more"))
        #expect(!summary.contains("ns/s20:p"))
    }

    static func ports(_ names: [String]) -> [ServicePortName: ProxiedPort] {
        Dictionary(uniqueKeysWithValues: names.map { (T.service($0), ProxiedPort(name: T.service($0), endpoints: [])) })
    }

    /// A proxy with descriptor limit `limit` and no reserve (so `limit - ⌈limit/4⌉` listeners),
    /// with a recording logger.
    static func proxy(limit: Int) -> (UserspaceProxy, RecordingLogHandler.Store) {
        let (logger, logs) = RecordingLogHandler.logger()
        let proxy = UserspaceProxy(
            group: MultiThreadedEventLoopGroup.singleton, bindAddress: IPAddress("127.0.0.1")!, portRange: nil,
            dialTimeouts: UserspaceProxy.defaultDialTimeouts,
            descriptors: DescriptorBudget(limit: limit, reserve: 0), dialer: TCPBackendDialer(),
            logger: logger)
        return (proxy, logs)
    }

    static func warnings(_ logs: RecordingLogHandler.Store) -> Int {
        logs.messages(at: .warning).filter { $0.contains("not served") }.count
    }

    @Test func portsBeyondCapacityAreUnservedAndWarnedOncePerChange() async throws {
        let (proxy, logs) = Self.proxy(limit: 4)
        #expect(proxy.listenerCapacity.descriptorListeners == 3)
        let all = ["a", "b", "c", "d", "e"]
        let first = await proxy.apply(Self.ports(all))
        #expect(first.map(\.kind) == [.started, .started, .started], "no per-port change for unserved ports")
        let unserved = try #require(await proxy.unservedPorts())
        #expect(unserved.names == [T.service("d"), T.service("e")])
        #expect(unserved.reason.hasPrefix("descriptor limit 4 (reserve 0, 1 kept for connections)"))
        guard case .unserved = await proxy.status()[T.service("e")] else {
            Issue.record("e is not reported unserved: \(String(describing: await proxy.status()[T.service("e")]))")
            return
        }
        #expect(Self.warnings(logs) == 1)

        // Retries (every sync) with the same set log nothing more.
        for _ in 0..<3 { #expect(await proxy.apply(Self.ports(all)).isEmpty) }
        #expect(Self.warnings(logs) == 1)

        // One Service deleted: d gets its listener, e is still unserved: one new warning.
        let shrunk = await proxy.apply(Self.ports(["b", "c", "d", "e"]))
        #expect(shrunk.map(\.kind) == [.stopped, .started])
        #expect(await proxy.unservedPorts()?.names == [T.service("e")])
        #expect(Self.warnings(logs) == 2)

        // Another one deleted: everything is served, the report clears with an info line.
        _ = await proxy.apply(Self.ports(["c", "d", "e"]))
        #expect(await proxy.unservedPorts() == nil)
        #expect(await proxy.status()[T.service("e")]?.port != nil)
        #expect(logs.messages(at: .info).contains { $0.contains("all service ports served again") })
        #expect(Self.warnings(logs) == 2)
        await proxy.shutdown()
    }

    @Test func unsupportedPortsTakeNoCapacity() async throws {
        let (proxy, _) = Self.proxy(limit: 2)
        var desired = Self.ports(["a"])
        let sctp = T.service("s", .sctp)
        desired[sctp] = ProxiedPort(name: sctp, endpoints: [])
        let changes = await proxy.apply(desired)
        #expect(Set(changes.map(\.kind)) == [.started, .unsupported])
        #expect(await proxy.unservedPorts() == nil)
        await proxy.shutdown()
    }
}
