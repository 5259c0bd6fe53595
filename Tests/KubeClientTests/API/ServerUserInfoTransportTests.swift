import Foundation
import KubeAPI
import KubeProxyTesting
import Logging
import Testing

@testable import KubeClient

/// User info in the server URL against a plain-HTTP fake API server that records each request's
/// `Authorization` header: it is sent as basic auth, unless a bearer token is configured.
@Suite(.timeLimit(.minutes(1)))
struct ServerUserInfoTransportTests {
    static let password = "pa@ss:w0rd"

    /// Runs an ``APISource`` on `configuration` until it syncs (or 10 s pass), then stops it and
    /// returns the `Authorization` headers the server saw and everything logged.
    static func sync(_ configuration: ClientConfiguration, server: FakeAPIServer) async throws
        -> (synced: Bool, authorizations: Set<String?>, logs: RecordingLogHandler.Store)
    {
        let logs = RecordingLogHandler.Store()
        let source = APISource(config: configuration, nodeName: "node-1", logger: logs.logger)
        let recorder = EventRecorder()
        var synced = false
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run { await recorder.record($0) } }
            let deadline = ContinuousClock.now + .seconds(10)
            while !synced, ContinuousClock.now < deadline {
                synced = await recorder.next(1, within: .seconds(1)).contains { if case .synced = $0 { true } else { false } }
            }
            group.cancelAll()
            try await group.waitForAll()
        }
        return (synced, Set(server.requests.map(\.authorization)), logs)
    }

    /// Runs `body` against a fresh plain-HTTP fake API server and shuts it down, also on failure.
    static func withServer(_ body: (FakeAPIServer) async throws -> Void) async throws {
        let server = try await FakeAPIServer.start()
        do {
            try await body(server)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func userInfoIsSentAsBasicAuthAndNeverLogged() async throws {
        try await Self.withServer { server in
            _ = try server.create(
                Service(
                    metadata: ObjectMeta(name: "web", namespace: "default"),
                    spec: ServiceSpec(ports: [ServicePortSpec(name: "http", port: 80)], clusterIP: "10.96.0.10")))
            let url = "http://admin:pa%40ss%3Aw0rd@127.0.0.1:\(server.port)"
            let (synced, authorizations, logs) = try await Self.sync(
                ClientConfiguration(server: url, origin: "--master"), server: server)
            #expect(synced, "never synced")
            #expect(authorizations == ["Basic " + Data("admin:\(Self.password)".utf8).base64EncodedString()])
            let warnings = logs.messages(at: .warning).filter { $0.contains("carries user info") }
            #expect(warnings.count == 1)
            #expect(warnings.first?.contains("http://REDACTED@127.0.0.1:\(server.port) (--master)") == true)
            let everything = [Logger.Level.debug, .info, .notice, .warning, .error].flatMap(logs.messages(at:))
            #expect(!everything.contains { $0.contains("pa%40ss") || $0.contains(Self.password) })
        }
    }

    @Test func aBearerTokenTakesPrecedenceOverUserInfo() async throws {
        try await Self.withServer { server in
            let configuration = ClientConfiguration(
                server: "http://admin:secret@127.0.0.1:\(server.port)", credentials: .token(BearerToken("t0ken")))
            let (synced, authorizations, logs) = try await Self.sync(configuration, server: server)
            #expect(synced, "never synced")
            #expect(authorizations == ["Bearer t0ken"])
            #expect(logs.messages(at: .warning).contains { $0.contains("not sent, since a bearer token is configured") })
        }
    }

    @Test func withoutUserInfoNoAuthorizationIsSent() async throws {
        try await Self.withServer { server in
            let (synced, authorizations, logs) = try await Self.sync(ClientConfiguration(server: server.url), server: server)
            #expect(synced, "never synced")
            #expect(authorizations == [nil])
            #expect(!logs.messages(at: .warning).contains { $0.contains("user info") })
        }
    }
}
