import Foundation
import KubeAPI
import KubeProxyTesting
import Logging
import Testing

@testable import KubeClient

/// A TLS fake API server with a generated PKI and a kubeconfig for it, torn down afterwards.
private struct FakeCluster {
    let server: FakeAPIServer
    let pki: FakeAPIPKI
    let directory: TemporaryDirectory

    static func start(token: String = "fake-token-123") async throws -> FakeCluster {
        let directory = try TemporaryDirectory()
        let pki = try FakeAPIPKI.generate(in: directory.path)
        let server = try await FakeAPIServer.start(tls: FakeAPITLS(pki: pki), token: token)
        return FakeCluster(server: server, pki: pki, directory: directory)
    }

    func configuration(_ options: FakeAPIKubeconfigOptions = .init()) throws -> ClientConfiguration {
        let file = try server.writeKubeconfig(to: directory.path + "/kubeconfig", options: options)
        return try ClientConfiguration.load(kubeconfig: file, master: nil, environment: [:])
    }

    func stop() async {
        await server.shutdown()
        directory.remove()
    }
}

/// Runs an ``APISource`` (real transport, real clock) on `configuration` while `body` runs.
private func running(
    _ configuration: ClientConfiguration, logger: Logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
    _ body: @Sendable (EventRecorder) async throws -> Void
) async throws {
    let source = APISource(config: configuration, nodeName: "node-1", logger: logger)
    let recorder = EventRecorder()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await source.run { await recorder.record($0) } }
        try await body(recorder)
        group.cancelAll()
        try await group.waitForAll()
    }
}

private func summaries(_ events: [SourceEvent]) -> [String] {
    events.map { event in
        switch event {
        case .synced: "synced"
        case .service(let change): "\(change.new == nil ? "deleted" : "seen") Service \((change.new ?? change.old)?.metadata.name ?? "")"
        case .endpointSlice(let change):
            "\(change.new == nil ? "deleted" : "seen") EndpointSlice \((change.new ?? change.old)?.metadata.name ?? "")"
        case .endpoints(let change):
            "\(change.new == nil ? "deleted" : "seen") Endpoints \((change.new ?? change.old)?.metadata.name ?? "")"
        case .node(let change): "\(change.new == nil ? "deleted" : "seen") Node \((change.new ?? change.old)?.metadata.name ?? "")"
        case .serviceCIDR(let change):
            "\(change.new == nil ? "deleted" : "seen") ServiceCIDR \((change.new ?? change.old)?.metadata.name ?? "")"
        }
    }
}

private func webService(_ name: String) -> Service {
    Service(
        metadata: ObjectMeta(name: name, namespace: "default"),
        spec: ServiceSpec(ports: [ServicePortSpec(name: "http", port: 80)], clusterIP: "10.96.0.10"))
}

@Suite(.timeLimit(.minutes(1)), .enabled(if: FakeAPIPKI.opensslPath != nil, "needs openssl for the test PKI"))
struct APISourceFakeServerTests {
    @Test(arguments: [FakeAPIKubeconfigOptions.Style.embedded, .files])
    func listsAndWatchesOverTLSWithABearerToken(style: FakeAPIKubeconfigOptions.Style) async throws {
        let cluster = try await FakeCluster.start()
        try cluster.server.create(webService("a"))
        try cluster.server.create(Node(metadata: ObjectMeta(name: "node-1")))
        let configuration = try cluster.configuration(.init(style: style))
        try await running(configuration) { recorder in
            #expect(Set(summaries(await recorder.next(3))) == ["seen Service a", "seen Node node-1", "synced"])
            #expect(await cluster.server.waitForWatches(1, on: .services))
            try cluster.server.create(webService("b"))
            _ = try cluster.server.delete(Service.self, name: "a")
            #expect(summaries(await recorder.next(2, within: .seconds(5))) == ["seen Service b", "deleted Service a"])
        }
        await cluster.stop()
    }

    @Test func mutualTLSAuthenticatesWithoutAToken() async throws {
        let cluster = try await FakeCluster.start()
        let configuration = try cluster.configuration(.init(token: "", includeClientCertificate: true))
        #expect(configuration.credentials == .none)
        try await running(configuration) { recorder in
            // A TLS handshake with a client certificate on a loaded 2-core machine can take
            // seconds; the assertion is that it authenticates, not how fast.
            #expect(summaries(await recorder.next(1, within: .seconds(20))) == ["synced"])
        }
        await cluster.stop()
    }

    @Test func aRelistAfterCompactionDeliversTheDeletionsMissedWhileAway() async throws {
        let cluster = try await FakeCluster.start()
        try cluster.server.create(webService("a"))
        try cluster.server.create(webService("b"))
        try await running(try cluster.configuration()) { recorder in
            #expect(summaries(await recorder.next(3)).last == "synced")
            #expect(await cluster.server.waitForWatches(1, on: .services))
            cluster.server.dropConnections()
            _ = try cluster.server.delete(Service.self, name: "b")
            cluster.server.compact()
            #expect(summaries(await recorder.next(1, within: .seconds(10))) == ["deleted Service b"])
            #expect(cluster.server.requestCount(path: "/api/v1/services", watch: false) >= 2)
        }
        await cluster.stop()
    }

    @Test func serverErrorsAreRetriedUntilTheSync() async throws {
        let cluster = try await FakeCluster.start()
        try cluster.server.create(webService("a"))
        cluster.server.failNext(1, status: 500)
        try await running(try cluster.configuration()) { recorder in
            #expect(summaries(await recorder.next(2, within: .seconds(10))) == ["seen Service a", "synced"])
        }
        await cluster.stop()
    }

    @Test func aWrongTokenNeverSyncsAndNeverShowsUpInTheLogs() async throws {
        let cluster = try await FakeCluster.start()
        let logs = RecordingLogHandler.Store()
        try await running(try cluster.configuration(.init(token: "wrong-s3cret")), logger: logs.logger) { recorder in
            #expect(await recorder.next(1, within: .milliseconds(1500)).isEmpty)
            // Under load the first refused request can take longer than that window to be logged.
            let deadline = ContinuousClock.now + .seconds(10)
            while !logs.messages(at: .warning).contains(where: { $0.contains("401") }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let warnings = logs.messages(at: .warning)
        #expect(warnings.contains { $0.contains("401") })
        #expect(
            !(logs.messages(at: .warning) + logs.messages(at: .info) + logs.messages(at: .debug)).contains {
                $0.contains("wrong-s3cret")
            })
        await cluster.stop()
    }

    /// `kubernetes.invalid` does not resolve: the sync proves requests are routed to the real
    /// host. (NIOSSL also accepts a certificate whose IP SAN matches the peer address, so the
    /// fake's `IP:127.0.0.1` certificate cannot show a name mismatch being refused.)
    @Test func aTLSServerNameStillConnectsToTheConfiguredHost() async throws {
        let cluster = try await FakeCluster.start()
        let configuration = ClientConfiguration(
            server: cluster.server.url, certificateAuthorityPEM: Array(try cluster.pki.pem(cluster.pki.caCertificatePath).utf8),
            tlsServerName: "kubernetes.invalid", credentials: .token(BearerToken("fake-token-123")))
        try await running(configuration) { recorder in
            // A TLS handshake with a client certificate on a loaded 2-core machine can take
            // seconds; the assertion is that it authenticates, not how fast.
            #expect(summaries(await recorder.next(1, within: .seconds(20))) == ["synced"])
        }
        await cluster.stop()
    }

    @Test func anUntrustedServerIsRefused() async throws {
        let cluster = try await FakeCluster.start()
        let configuration = ClientConfiguration(
            server: cluster.server.url, certificateAuthorityPEM: Array(testCertificatePEM.utf8),
            credentials: .token(BearerToken("fake-token-123")))
        try await running(configuration) { recorder in
            #expect(await recorder.next(1, within: .seconds(1)).isEmpty)
        }
        #expect(cluster.server.requestCount(path: "/api/v1/services") == 0)
        await cluster.stop()
    }
}
