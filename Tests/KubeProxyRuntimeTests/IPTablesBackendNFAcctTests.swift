import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import Synchronization
import Testing

@testable import KubeProxyRuntime

/// `IPTablesBackend` with nfacct: the counting rules are written when the objects exist, and a
/// kernel that refuses the match (objects but no xt_nfacct) costs one failed restore, not
/// every sync.
@Suite struct IPTablesBackendNFAcctTests {
    static let web = ServicePortName(namespace: "ns", name: "web", port: "http")

    static func snapshot() -> ProxySnapshot {
        let web = ServicePort(name: Self.web, clusterIP: .v4(0xac1e_000a), port: 80, nodePort: 30080)
        return ProxySnapshot(
            family: .ipv4, servicePorts: [Self.web: web], endpoints: [Self.web: [Endpoint(ip: .v4(0x0ab4_0001), port: 8080)]])
    }

    static func nfacctRules(_ fake: FakeIPTables) -> [String] {
        fake.ruleSet(family: .ipv4).tables.flatMap(\.chains).flatMap(\.rules).filter { $0.arguments.contains("nfacct") }
            .map(\.chain)
    }

    func sync(_ backend: IPTablesBackend) async -> SyncOutcome {
        await backend.apply(await backend.plan(snapshot: Self.snapshot(), delta: SyncDelta()))
    }

    @Test func countingRulesAreWrittenWhenTheObjectsExist() async throws {
        let fake = FakeIPTables()
        var parameters = IPTablesModeParameters(KernelModeOptions(family: .ipv4, topology: NodeTopology(nodeName: "node-a")))
        parameters.nfacctAvailable = true
        let backend = IPTablesBackend(parameters: parameters, executor: fake, logger: silentLogger)
        try await backend.start()
        #expect(await sync(backend).result == .succeeded)
        #expect(Self.nfacctRules(fake).sorted() == ["KUBE-FORWARD", "KUBE-NODEPORTS"])
    }

    @Test func aRefusedMatchIsDroppedAfterOneFailedRestoreAndTheCountersStop() async throws {
        let fake = FakeIPTables()
        let nfacct = FakeNFAcct()
        #expect(IPTablesBackend.ensureNFAcctObjects(nfacct, logger: silentLogger))
        let metrics = NFAcctMetrics(client: nfacct, logger: silentLogger)
        var parameters = IPTablesModeParameters(KernelModeOptions(family: .ipv4, topology: NodeTopology(nodeName: "node-a")))
        parameters.nfacctAvailable = true
        let (logger, log) = RecordingLogHandler.logger()
        let backend = IPTablesBackend(
            parameters: parameters, executor: fake, nfacctRefused: { metrics.disable() }, logger: logger)
        try await backend.start()
        // What the nf_tables iptables-restore prints on a kernel without xt_nfacct.
        fake.failNextRestore(
            message: """
                Warning: Extension nfacct revision 0 not supported, missing kernel module?
                iptables-restore v1.8.10 (nf_tables): line 9: RULE_APPEND failed (No such file or directory): rule in chain KUBE-FORWARD
                """)
        #expect(await sync(backend).result != .succeeded)
        #expect(metrics.emitToString().isEmpty)
        let retry = await sync(backend)
        #expect(retry.result == .succeeded)
        #expect(retry.kind == .full)
        #expect(Self.nfacctRules(fake).isEmpty)
        #expect(log.messages(at: .error).filter { $0.contains("refused the nfacct match") }.count == 1)
    }

    @Test func otherRestoreFailuresKeepTheCounting() async throws {
        let fake = FakeIPTables()
        var parameters = IPTablesModeParameters(KernelModeOptions(family: .ipv4, topology: NodeTopology(nodeName: "node-a")))
        parameters.nfacctAvailable = true
        let refused = Mutex(false)
        let backend = IPTablesBackend(
            parameters: parameters, executor: fake, nfacctRefused: { refused.withLock { $0 = true } }, logger: silentLogger)
        try await backend.start()
        fake.failNextRestore(message: "iptables-restore: line 3 failed: Resource temporarily unavailable")
        #expect(await sync(backend).result != .succeeded)
        #expect(await sync(backend).result == .succeeded)
        #expect(Self.nfacctRules(fake).sorted() == ["KUBE-FORWARD", "KUBE-NODEPORTS"])
        #expect(!refused.withLock { $0 })
    }
}
