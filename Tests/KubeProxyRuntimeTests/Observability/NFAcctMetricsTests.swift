import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Logging
import Prometheus
import Testing

@testable import KubeProxyRuntime

/// iptables mode's nfacct counters: created once at start (or a clear line saying why not),
/// read from the objects at every scrape, with upstream's names and HELP texts.
@Suite(.timeLimit(.minutes(1)))
struct NFAcctMetricsTests {
    static let invalid = MetricNames.iptablesCTStateInvalidDroppedPacketsTotal
    static let localhost = MetricNames.iptablesLocalhostNodePortsAcceptedPacketsTotal

    @Test func ensureCreatesBothObjectsAndKeepsExistingCounts() throws {
        let fake = FakeNFAcct(objects: [IPTablesModeNFAcct.ctStateInvalidDropped: 12])
        let (logger, log) = RecordingLogHandler.logger()
        #expect(IPTablesBackend.ensureNFAcctObjects(fake, logger: logger))
        #expect(fake.names == Set(IPTablesModeNFAcct.all))
        #expect(try fake.counter(IPTablesModeNFAcct.ctStateInvalidDropped).packets == 12)
        #expect(log.messages(at: .info) == ["nfacct counters ready"])
        #expect(log.messages(at: .warning).isEmpty)
    }

    @Test(arguments: [Int32(1), 95])  // EPERM (no CAP_NET_ADMIN), EOPNOTSUPP (no nfnetlink_acct)
    func refusalIsOneWarningNamingTheErrorAndWhatIsLeftOut(errno: Int32) {
        let fake = FakeNFAcct()
        fake.refuse(errno: errno)
        let (logger, log) = RecordingLogHandler.logger()
        #expect(!IPTablesBackend.ensureNFAcctObjects(fake, logger: logger))
        let warnings = log.all.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(log.all.count == 1)
        let warning = warnings.first
        #expect(warning?.message.contains("without -m nfacct") == true)
        #expect(warning?.message.contains(Self.invalid) == true)
        #expect(warning?.message.contains(Self.localhost) == true)
        let error = warning?.metadata["error"].map { "\($0)" } ?? ""
        #expect(error.contains("errno \(errno)"))
        #expect(fake.names.isEmpty)
    }

    @Test func scrapesReadTheObjectsEachTime() throws {
        let fake = FakeNFAcct()
        #expect(IPTablesBackend.ensureNFAcctObjects(fake, logger: silentLogger))
        let metrics = NFAcctMetrics(client: fake, logger: silentLogger)
        #expect(
            metrics.emitToString() == """
                # HELP \(Self.invalid) [ALPHA] packets dropped by iptables to work around conntrack problems
                # TYPE \(Self.invalid) counter
                \(Self.invalid) 0
                # HELP \(Self.localhost) [ALPHA] Number of packets accepted on nodeports of loopback interface
                # TYPE \(Self.localhost) counter
                \(Self.localhost) 0

                """)
        fake.count(IPTablesModeNFAcct.localhostNodePortsAccepted, packets: 3, bytes: 180)
        fake.count(IPTablesModeNFAcct.ctStateInvalidDropped, packets: 1)
        let text = metrics.emitToString()
        #expect(text.contains("\n\(Self.localhost) 3\n"))
        #expect(text.contains("\n\(Self.invalid) 1\n"))
        #expect(fake.calls.reads == 4)
    }

    @Test func anUnreadableObjectIsLeftOutAndLoggedOnceUntilItReadsAgain() {
        let fake = FakeNFAcct()
        #expect(IPTablesBackend.ensureNFAcctObjects(fake, logger: silentLogger))
        let (logger, log) = RecordingLogHandler.logger()
        let metrics = NFAcctMetrics(client: fake, logger: logger)
        fake.delete(IPTablesModeNFAcct.ctStateInvalidDropped)
        for _ in 0..<3 {
            let text = metrics.emitToString()
            #expect(!text.contains(Self.invalid))
            #expect(text.contains("\n\(Self.localhost) 0\n"))
        }
        #expect(log.messages(at: .error).count == 1)
        let error = log.all.first?.metadata["error"].map { "\($0)" } ?? ""
        #expect(error.contains("errno 2"))
        fake.refuse(errno: nil)
        try? fake.ensure(IPTablesModeNFAcct.ctStateInvalidDropped)
        #expect(metrics.emitToString().contains("\n\(Self.invalid) 0\n"))
        #expect(log.messages(at: .info) == ["nfacct counter readable again"])
    }

    @Test func servedAfterTheRegistryAndParsedAsCounters() async throws {
        let registry = PrometheusCollectorRegistry()
        let proxyMetrics = ProxyMetrics(registry: registry)
        proxyMetrics.registerIPTablesCounters(family: .ipv4)
        let fake = FakeNFAcct()
        #expect(IPTablesBackend.ensureNFAcctObjects(fake, logger: silentLogger))
        fake.count(IPTablesModeNFAcct.ctStateInvalidDropped, packets: 5)
        let server = MetricsServer(
            address: HostPort("127.0.0.1:0")!, registry: registry, dataPlane: DataPlaneMetrics(),
            nfacct: NFAcctMetrics(client: fake, logger: silentLogger), logger: silentLogger)
        let port = try await server.start()
        let body = try RawHTTP.get("/metrics", port: port).body
        await server.shutdown()
        let registryPart = try #require(body.range(of: MetricNames.iptablesRestoreFailuresTotal))
        let nfacctPart = try #require(body.range(of: "\n\(Self.invalid) 5\n"))
        #expect(registryPart.upperBound < nfacctPart.lowerBound)
        if PrometheusTextParser.isAvailable {
            let families = try PrometheusTextParser.parse(body)
            // The parser names counter families without `_total`.
            let invalid = try #require(families.first { $0.name + "_total" == Self.invalid })
            #expect(invalid.type == "counter")
            #expect(invalid.samples.map(\.value) == [5])
            #expect(families.contains { $0.name + "_total" == Self.localhost && $0.type == "counter" })
        }
    }
}
