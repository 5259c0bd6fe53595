// kube-proxy: flags → configuration → builder. Nothing else lives here (DESIGN.md rule 12).
import ArgumentParser
import KubeProxyCore
import KubeProxyRuntime
import Logging

#if canImport(Glibc)
import Glibc
#endif

@main
struct KubeProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-proxy",
        abstract: "A Kubernetes service proxy: makes Service virtual addresses reach their backends.",
        discussion: """
            Upstream kube-proxy's flag names and defaults. --manifests runs the proxy with no cluster, \
            reading Services and EndpointSlices from YAML/JSON files that are watched for changes.
            """,
        version: KubeProxyVersion.string
    )

    @Option(name: .customLong("proxy-mode"), help: "Which proxy mode to use: userspace (iptables and nftables are not implemented yet).")
    var proxyMode: String = KubeProxyConfiguration().mode.rawValue

    @Option(name: .customLong("bind-address"), help: "The IP address the per-service proxy sockets listen on (0.0.0.0 for all IPv4 interfaces).")
    var bindAddress: String = "0.0.0.0"

    @Option(name: .customLong("proxy-port-range"), help: "Range of host ports (beginPort-endPort, single port or beginPort+offset, inclusive) for proxy sockets. Empty or 0 lets the kernel choose.")
    var proxyPortRange: String = ""

    @Option(name: .customLong("hostname-override"), help: "If non-empty, used as the node name instead of the actual hostname.")
    var hostnameOverride: String = ""

    @Option(name: .customLong("iptables-min-sync-period"), help: "The minimum period between syncs when Services or endpoints change (e.g. '1s', '500ms'). 0 syncs on every change.")
    var minSyncPeriod: String = "1s"

    @Option(name: .customLong("iptables-sync-period"), help: "The maximum period between full syncs (e.g. '30s', '1m'). Must be greater than 0.")
    var syncPeriod: String = "30s"

    @Option(name: .customLong("udp-timeout"), help: "How long an idle UDP connection is kept open (e.g. '250ms', '2s'). Must be greater than 0.")
    var udpTimeout: String = "250ms"

    @Option(name: .customLong("manifests"), help: "Read Services, EndpointSlices and Endpoints from this YAML/JSON file or directory and watch it for changes (no cluster needed).")
    var manifests: String = ""

    @Option(name: .customLong("kubeconfig"), help: "Path to a kubeconfig file (the API client is not implemented yet).")
    var kubeconfig: String = ""

    @Option(name: .customLong("master"), help: "The address of the Kubernetes API server (the API client is not implemented yet).")
    var master: String = ""

    @Option(name: [.customShort("v"), .customLong("v")], help: "Log verbosity: 0 info, 4 debug, 6 trace.")
    var verbosity: Int = 0

    func validate() throws {
        _ = try makeConfiguration()
    }

    func makeConfiguration() throws -> KubeProxyConfiguration {
        var config = KubeProxyConfiguration()
        guard let mode = KubeProxyConfiguration.Mode(rawValue: proxyMode.lowercased()) else {
            throw ValidationError("--proxy-mode: unknown mode \"\(proxyMode)\" (valid: userspace, iptables, nftables)")
        }
        config.mode = mode
        guard let bind = IPAddress(bindAddress) else {
            throw ValidationError("--bind-address: \"\(bindAddress)\" is not an IP address")
        }
        config.bindAddress = bind
        config.portRange = proxyPortRange
        config.hostnameOverride = hostnameOverride
        config.minSyncPeriod = try duration(minSyncPeriod, flag: "--iptables-min-sync-period")
        config.syncPeriod = try duration(syncPeriod, flag: "--iptables-sync-period")
        config.udpIdleTimeout = try duration(udpTimeout, flag: "--udp-timeout")
        config.manifests = manifests
        config.kubeconfig = kubeconfig
        config.master = master
        config.verbosity = verbosity
        let problems = config.validate() + ProxyBuilder.validate(config)
        if !problems.isEmpty {
            throw ValidationError(problems.map(\.description).joined(separator: "\n"))
        }
        return config
    }

    private func duration(_ text: String, flag: String) throws -> Duration {
        do {
            return try GoDuration.parse(text)
        } catch {
            throw ValidationError("\(flag): \(error)")
        }
    }

    func run() async throws {
        let config = try makeConfiguration()
        let level = KlogHandler.level(forVerbosity: config.verbosity)
        LoggingSystem.bootstrap { label in KlogHandler(label: label, level: level) }
        let logger = Logger(label: "kube-proxy")
        do {
            try await ProxyBuilder(configuration: config, logger: logger).run()
        } catch {
            logger.critical("kube-proxy stopped: \(error)")
            throw ExitCode(1)
        }
    }
}
