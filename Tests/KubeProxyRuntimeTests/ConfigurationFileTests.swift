import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

struct ConfigurationFileTests {
    static let header = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"

    @Test func aMinimalFileGivesUpstreamDefaults() throws {
        let config = try ConfigurationFile.parse(Self.header, file: "c.yaml")
        #expect(config == KubeProxyConfiguration())
        #expect(config.healthzBindAddress == "0.0.0.0:10256")
        #expect(config.metricsBindAddress == "127.0.0.1:10249")
        #expect(config.syncPeriod == .seconds(30))
        #expect(config.minSyncPeriod == .seconds(1))
        #expect(config.udpIdleTimeout == .milliseconds(250))
        #expect(config.configSyncPeriod == .seconds(900))
        #expect(config.oomScoreAdj == -999)
        #expect(config.conntrack.maxPerCore == 32768)
    }

    @Test func upstreamFieldsAreRead() throws {
        let text =
            Self.header + """
                bindAddress: 127.0.0.1
                healthzBindAddress: 0.0.0.0:12345
                metricsBindAddress: "[::1]:10249"
                hostnameOverride: node-a
                mode: userspace
                portRange: 30000-30100
                udpIdleTimeout: 2s
                iptables:
                  minSyncPeriod: 500ms
                  syncPeriod: 1m
                  masqueradeBit: 15
                clientConnection:
                  qps: 50
                  burst: 100
                conntrack:
                  maxPerCore: 0
                  tcpEstablishedTimeout: 12h
                nodePortAddresses: ["10.0.0.0/8", "primary"]
                featureGates: {SomeGate: true}
                logging:
                  verbosity: 4
                ipvs:
                  scheduler: rr
                """
        let config = try ConfigurationFile.parse(text, file: "c.yaml")
        #expect(config.bindAddress == IPAddress("127.0.0.1"))
        #expect(config.healthzBindAddress == "0.0.0.0:12345")
        #expect(config.metricsBindAddress == "[::1]:10249")
        #expect(config.hostnameOverride == "node-a")
        #expect(config.portRange == "30000-30100")
        #expect(config.udpIdleTimeout == .seconds(2))
        #expect(config.minSyncPeriod == .milliseconds(500))
        #expect(config.syncPeriod == .seconds(60))
        #expect(config.iptables.masqueradeBit == 15)
        #expect(config.clientConnection.qps == 50)
        #expect(config.clientConnection.burst == 100)
        #expect(config.conntrack.maxPerCore == 0)
        #expect(config.conntrack.tcpEstablishedTimeout == .seconds(43200))
        #expect(config.nodePortAddresses == ["10.0.0.0/8", "primary"])
        #expect(config.featureGates == ["SomeGate": true])
        #expect(config.verbosity == 4)
    }

    @Test(arguments: [
        ("syncPeriodd: 1s", "syncPeriodd", "unknown field"),
        ("iptables:\n  syncPerod: 1s", "iptables.syncPerod", "unknown field"),
        ("iptables:\n  syncPeriod: 3x", "iptables.syncPeriod", "unknown unit"),
        ("bindAddress: 1.2.3", "bindAddress", "not an IP address"),
        ("mode: ipvs", "mode", "unknown mode"),
        ("oomScoreAdj: lots", "oomScoreAdj", "expected an integer"),
        ("iptables: 5", "iptables", "expected an object"),
    ])
    func errorsNameTheFileAndField(_ line: String, _ field: String, _ message: String) {
        do {
            _ = try ConfigurationFile.parse(Self.header + line + "\n", file: "c.yaml")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.file == "c.yaml")
            #expect(error.field == field)
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func apiVersionAndKindAreRequired() {
        #expect(throws: ConfigurationFile.Error.self) { try ConfigurationFile.parse("mode: userspace\n", file: "c.yaml") }
        #expect(throws: ConfigurationFile.Error.self) {
            try ConfigurationFile.parse("apiVersion: v1\nkind: KubeProxyConfiguration\n", file: "c.yaml")
        }
        #expect(throws: ConfigurationFile.Error.self) { try ConfigurationFile.parse("- a\n- b\n", file: "c.yaml") }
    }

    @Test func renderedConfigurationParsesBackToTheSameValue() throws {
        var config = KubeProxyConfiguration()
        config.bindAddress = IPAddress("::")!
        config.healthzBindAddress = "[::]:10256"
        config.minSyncPeriod = .milliseconds(250)
        config.syncPeriod = .seconds(90)
        config.manifests = "/etc/kube-proxy/manifests"
        config.nodePortAddresses = ["primary"]
        config.featureGates = ["A": false]
        config.verbosity = 2
        config.metricsPerServicePort = true
        config.userspaceTCPRelay = "nio"
        let text = ConfigurationFile.render(config)
        #expect(text.contains("apiVersion: kubeproxy.config.k8s.io/v1alpha1"))
        #expect(text.contains("syncPeriod: 1m30s"))
        #expect(try ConfigurationFile.parse(text, file: "out.yaml") == config)
        #expect(try ConfigurationFile.parse(ConfigurationFile.render(KubeProxyConfiguration()), file: "d.yaml") == KubeProxyConfiguration())
    }

    @Test func validationNamesFlagAndField() {
        var config = KubeProxyConfiguration()
        config.manifests = "/x"
        config.syncPeriod = .zero
        config.healthzBindAddress = "nonsense"
        config.iptables.masqueradeBit = 40
        config.userspaceTCPRelay = "uring"
        let problems = config.validate()
        let fields = problems.map(\.field)
        #expect(fields.contains("--iptables-sync-period (iptables.syncPeriod)"))
        #expect(
            problems.contains {
                $0.field == "--userspace-tcp-relay (userspaceTCPRelay)" && $0.message.contains("epoll, nio")
                    && $0.message.contains("\"uring\"")
            })
        #expect(fields.contains("--healthz-bind-address (healthzBindAddress)"))
        #expect(fields.contains("iptables.masqueradeBit"))
    }

    /// The example in a bind-address error is that server's own port, so copying it works.
    @Test func bindAddressErrorsGiveAnExampleWithTheServersPort() throws {
        var config = KubeProxyConfiguration()
        config.healthzBindAddress = "healthz"
        config.metricsBindAddress = "metrics"
        let problems = config.validate()
        let metrics = try #require(problems.first { $0.field.hasPrefix("--metrics-bind-address") })
        #expect(metrics.message.contains("127.0.0.1:10249"))
        #expect(!metrics.message.contains("10256"))
        let healthz = try #require(problems.first { $0.field.hasPrefix("--healthz-bind-address") })
        #expect(healthz.message.contains("0.0.0.0:10256"))
        #expect(!healthz.message.contains("10249"))
    }
}

struct GoDurationTests {
    @Test(arguments: [
        ("0", Duration.zero), ("250ms", .milliseconds(250)), ("1s", .seconds(1)), ("1.5s", .milliseconds(1500)),
        ("1m30s", .seconds(90)), ("2h", .seconds(7200)), ("15m0s", .seconds(900)), ("100us", .microseconds(100)),
    ])
    func parses(_ text: String, _ expected: Duration) throws {
        #expect(try GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "5", "1x", "-1s", "s", "1.2.3s"])
    func rejects(_ text: String) {
        #expect(throws: GoDuration.ParseError.self) { try GoDuration.parse(text) }
    }

    @Test(arguments: [
        (Duration.zero, "0s"), (.milliseconds(250), "250ms"), (.seconds(1), "1s"), (.seconds(90), "1m30s"),
        (.seconds(900), "15m0s"), (.seconds(86400), "24h0m0s"), (.milliseconds(1500), "1.5s"),
        // Fractions in integer arithmetic, never a Double's exponent (the fuzzer found
        // "1h2m3e-06s" for 1h2m plus 3µs, which no parser reads back).
        (.seconds(3720) + .microseconds(3), "1h2m0.000003s"), (.nanoseconds(1500), "1.5µs"),
        (.nanoseconds(2_000_001), "2.000001ms"), (.nanoseconds(61_000_000_001), "1m1.000000001s"),
    ])
    func formatsLikeGo(_ value: Duration, _ text: String) throws {
        #expect(GoDuration.format(value) == text)
        #expect(try GoDuration.parse(text) == value)
    }
}
