import KubeProxyCore
import Synchronization
import Testing

@testable import KubeProxyDataPlane

/// `shutdown(drainTimeout:)`: listeners close at once, open connections may finish.
@Suite("UserspaceProxy drain", .timeLimit(.minutes(1)))
struct UserspaceProxyDrainTests {
    typealias T = UserspaceProxyTests

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .sequentiallyConsistent) }
        var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    }

    @Test(arguments: TCPRelayEngine.allCases) func openConnectionsKeepWorkingAndShutdownEndsWhenTheyClose(relay: TCPRelayEngine)
        async throws
    {
        let a = try await TestBackend.greeter("a")
        let proxy = T.proxy(relay: relay)
        let svc = T.service("drain")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let finished = Flag()
        let shutdown = try await TestClient.withSession(port: port) { session in
            #expect(try await session.line() == "a")
            let shutdown = Task {
                await proxy.shutdown(drainTimeout: .seconds(50))
                finished.set()
            }
            #expect(try await eventually { await TestClient.isRefused(port: port) })
            try await session.send("during drain\n")
            #expect(try await session.line() == "during drain")
            #expect(!finished.isSet)
            return shutdown
        }
        await shutdown.value
        #expect(finished.isSet)
        #expect(await proxy.openChannelCount() == 0)
        #expect(await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: []))).isEmpty)
        await a.close()
    }

    @Test(arguments: TCPRelayEngine.allCases) func remainingConnectionsAreClosedAtTheTimeout(relay: TCPRelayEngine) async throws {
        let a = try await TestBackend.greeter("a")
        let proxy = T.proxy(relay: relay)
        let svc = T.service("slow")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [a.endpoint])))
        let port = try await T.listeningPort(proxy, svc)
        let rest = try await TestClient.withSession(port: port) { session in
            #expect(try await session.line() == "a")
            await proxy.shutdown(drainTimeout: .milliseconds(200))
            return try await session.rest()
        }
        #expect(rest == "")
        #expect(try await eventually { await proxy.openChannelCount() == 0 })
        await a.close()
    }

    @Test(arguments: TCPRelayEngine.allCases) func drainWithoutConnectionsReturnsAtOnce(relay: TCPRelayEngine) async throws {
        let proxy = T.proxy(relay: relay)
        let svc = T.service("idle")
        _ = await proxy.apply(T.desired(ProxiedPort(name: svc, endpoints: [])))
        let port = try await T.listeningPort(proxy, svc)
        await proxy.shutdown(drainTimeout: .seconds(50))
        #expect(await TestClient.isRefused(port: port))
    }
}
