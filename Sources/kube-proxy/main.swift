// kube-proxy: flags and config file → configuration → builder. Nothing else lives here
// (docs/design.md#thin-executable).
import ArgumentParser
import Foundation
import KubeProxyCore
import KubeProxyRuntime
import Logging

@main
struct KubeProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-proxy",
        abstract: "A Kubernetes service proxy: makes Service virtual addresses reach their backends.",
        discussion: """
            Upstream kube-proxy's flag names and defaults. Flags given explicitly override the \
            --config file. --manifests runs the proxy with no cluster, reading Services and \
            EndpointSlices from YAML/JSON files that are watched for changes.
            """,
        version: KubeProxyVersion.string
    )

    @Option(name: .customLong("config"), help: "The path to a KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1).")
    var configFile: String?

    @Option(
        name: .customLong("write-config-to"),
        help:
            "If set, write the effective configuration to this file ('-' for standard output) and exit. Symbolic links are followed, never replaced."
    )
    var writeConfigTo: String?

    @Option(name: .customLong("proxy-mode"), help: "Which proxy mode to use: userspace, iptables or nftables.")
    var proxyMode: String?

    @Option(name: .customLong("bind-address"), help: "The IP address the per-service proxy sockets listen on (default 0.0.0.0).")
    var bindAddress: String?

    @Option(name: .customLong("healthz-bind-address"), help: "IP:port for the health check server (default 0.0.0.0:10256).")
    var healthzBindAddress: String?

    @Option(name: .customLong("metrics-bind-address"), help: "IP:port for the metrics server (default 127.0.0.1:10249).")
    var metricsBindAddress: String?

    @Option(
        name: .customLong("proxy-port-range"),
        help:
            "Range of host ports (beginPort-endPort, single port or beginPort+offset, inclusive) for proxy sockets. Empty or 0 lets the kernel choose."
    )
    var proxyPortRange: String?

    @Option(name: .customLong("hostname-override"), help: "If non-empty, used as the node name instead of the actual hostname.")
    var hostnameOverride: String?

    @Option(
        name: .customLong("iptables-min-sync-period"),
        help:
            "The minimum period between syncs when Services or endpoints change (e.g. '1s', '500ms'; default 1s). 0 syncs on every change.")
    var minSyncPeriod: String?

    @Option(
        name: .customLong("iptables-sync-period"),
        help: "The maximum period between full syncs (e.g. '30s', '1m'; default 30s). Must be greater than 0.")
    var syncPeriod: String?

    @Option(
        name: .customLong("udp-timeout"),
        help: "How long an idle UDP connection is kept open (e.g. '250ms', '2s'; default 250ms). Must be greater than 0.")
    var udpTimeout: String?

    @Option(
        name: .customLong("config-sync-period"),
        help: "How often configuration from the apiserver is refreshed (default 15m). Must be greater than 0.")
    var configSyncPeriod: String?

    @Option(
        name: .customLong("manifests"),
        help:
            "Read Services, EndpointSlices and Endpoints from this YAML/JSON file or directory and watch it for changes (no cluster needed)."
    )
    var manifests: String?

    @Option(
        name: .customLong("manifest-max-bytes"),
        help: "The largest --manifests file read, in bytes (default 16777216, 16 MiB); larger files are refused unread.")
    var manifestMaxBytes: Int?

    @Option(
        name: .customLong("kubeconfig"),
        help: "Path to a kubeconfig file with authorization and API server information (else KUBECONFIG, in-cluster, ~/.kube/config).")
    var kubeconfig: String?

    @Option(name: .customLong("master"), help: "The address of the Kubernetes API server (overrides any value in the kubeconfig).")
    var master: String?

    @Option(name: .customLong("cluster-cidr"), help: "The CIDR range of the pods in the cluster (accepted; used by kernel modes).")
    var clusterCIDR: String?

    @Option(
        name: .customLong("detect-local-mode"),
        help: "How pod traffic is recognised: ClusterCIDR (default), NodeCIDR, BridgeInterface or InterfaceNamePrefix.")
    var detectLocalMode: String?

    @Option(name: .customLong("pod-bridge-interface"), help: "The bridge pods are attached to (--detect-local-mode=BridgeInterface).")
    var podBridgeInterface: String?

    @Option(
        name: .customLong("pod-interface-name-prefix"),
        help: "The name prefix of pod interfaces (--detect-local-mode=InterfaceNamePrefix).")
    var podInterfaceNamePrefix: String?

    @Option(
        name: .customLong("nodeport-addresses"),
        help: "Comma-separated CIDRs or primary/localhost/all for NodePorts (accepted; used by kernel modes).")
    var nodePortAddresses: String?

    @Option(
        name: .customLong("oom-score-adj"), help: "The oom-score-adj value for the kube-proxy process, in [-1000, 1000] (default -999).")
    var oomScoreAdj: Int?

    @Flag(name: .customLong("masquerade-all"), help: "SNAT all traffic sent via Service cluster IPs (kernel modes).")
    var masqueradeAll = false

    @Option(
        name: .customLong("iptables-masquerade-bit"),
        help: "The bit of the fwmark space to mark packets requiring SNAT, in [0, 31] (default 14).")
    var masqueradeBit: Int?

    @Option(
        name: .customLong("iptables-localhost-nodeports"),
        help: "iptables mode: accept NodePort connections to 127.0.0.1 (IPv4; sets route_localnet) (default true).")
    var localhostNodePorts: Bool?

    @Option(name: .customLong("feature-gates"), help: "Comma-separated key=true|false pairs (accepted and recorded).")
    var featureGates: String?

    @Option(name: [.customShort("v"), .customLong("v")], help: "Log verbosity: 0 info, 4 debug, 6 trace.")
    var verbosity: Int?

    @Option(
        name: .customLong("userspace-portals"),
        help: "Install the userspace portal rules (iptables) when running as root (default true). false serves the proxy sockets only.")
    var userspacePortals: Bool?

    @Option(
        name: .customLong("userspace-tcp-relay"),
        help: "What relays TCP service ports in userspace mode: epoll (default, the proxy's own relay threads) or nio.")
    var userspaceTCPRelay: String?

    @Flag(name: .customLong("use-endpoints"), help: "Watch legacy core/v1 Endpoints instead of EndpointSlices.")
    var useEndpoints = false

    @Option(
        name: .customLong("proxy-event-loops"),
        help: "Event-loop threads of the userspace data plane (default 0: one per core); busy service ports listen on each.")
    var proxyEventLoops: Int?

    @Flag(
        name: .customLong("metrics-per-service-port"),
        help: "Label the kubeproxy_userspace_* metrics by service port (one series set per port) instead of per protocol.")
    var metricsPerServicePort = false

    @Flag(name: .customLong("cleanup"), help: "Remove every rule and chain kube-proxy could have created, then exit.")
    var cleanup = false

    func validate() throws {
        _ = try makeConfiguration()
    }

    /// File (if any) first, then every flag given explicitly on top, as upstream's component config does.
    func makeConfiguration() throws -> KubeProxyConfiguration {
        var config = KubeProxyConfiguration()
        if let configFile {
            // Paths inside the file are relative to the file; flags below stay relative to the CWD.
            do {
                config = try ConfigurationFile.load(path: configFile)
            } catch {
                throw ValidationError("--config: \(error)")
            }
        }
        if let proxyMode {
            if proxyMode.isEmpty {
                config.mode = KubeProxyConfiguration().mode
            } else {
                guard let mode = KubeProxyConfiguration.Mode(rawValue: proxyMode.lowercased()) else {
                    throw ValidationError("--proxy-mode: unknown mode \"\(proxyMode)\" (valid: userspace, iptables, nftables)")
                }
                config.mode = mode
            }
        }
        if let bindAddress {
            guard let bind = IPAddress(bindAddress) else {
                throw ValidationError("--bind-address: \"\(bindAddress)\" is not an IP address")
            }
            config.bindAddress = bind
        }
        if let healthzBindAddress { config.healthzBindAddress = healthzBindAddress }
        if let metricsBindAddress { config.metricsBindAddress = metricsBindAddress }
        if let proxyPortRange { config.portRange = proxyPortRange }
        if let hostnameOverride { config.hostnameOverride = hostnameOverride }
        if let minSyncPeriod { config.minSyncPeriod = try duration(minSyncPeriod, flag: "--iptables-min-sync-period") }
        if let syncPeriod { config.syncPeriod = try duration(syncPeriod, flag: "--iptables-sync-period") }
        if let udpTimeout { config.udpIdleTimeout = try duration(udpTimeout, flag: "--udp-timeout") }
        if let configSyncPeriod { config.configSyncPeriod = try duration(configSyncPeriod, flag: "--config-sync-period") }
        if let manifests { config.manifests = manifests }
        if let manifestMaxBytes { config.manifestMaxBytes = manifestMaxBytes }
        if let kubeconfig { config.kubeconfig = kubeconfig }
        if let master { config.master = master }
        if let clusterCIDR { config.clusterCIDR = clusterCIDR }
        if let detectLocalMode { config.detectLocalMode = detectLocalMode }
        if let podBridgeInterface { config.detectLocal.bridgeInterface = podBridgeInterface }
        if let podInterfaceNamePrefix { config.detectLocal.interfaceNamePrefix = podInterfaceNamePrefix }
        if let nodePortAddresses {
            config.nodePortAddresses = nodePortAddresses.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        if let oomScoreAdj { config.oomScoreAdj = oomScoreAdj }
        if masqueradeAll {
            config.iptables.masqueradeAll = true
            config.nftables.masqueradeAll = true
        }
        if let masqueradeBit { config.iptables.masqueradeBit = masqueradeBit }
        if let localhostNodePorts { config.iptables.localhostNodePorts = localhostNodePorts }
        if let featureGates {
            for pair in featureGates.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let value = Bool(parts[1].lowercased()) else {
                    throw ValidationError("--feature-gates: \"\(pair)\" is not Name=true|false")
                }
                config.featureGates[parts[0]] = value
            }
        }
        if let verbosity { config.verbosity = verbosity }
        if let userspacePortals { config.userspacePortals = userspacePortals }
        if let userspaceTCPRelay { config.userspaceTCPRelay = userspaceTCPRelay }
        if useEndpoints { config.useEndpoints = true }
        if metricsPerServicePort { config.metricsPerServicePort = true }
        if let proxyEventLoops { config.proxyEventLoops = proxyEventLoops }
        if cleanup || writeConfigTo != nil { return config }  // neither needs a runnable configuration
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

    /// The entry point: the allocator is set up before any other thread can have allocated
    /// (an arena limit set later leaves the arenas already created in place).
    static func main() async {
        MallocArenas.limitToOne()
        await main(nil)
    }

    func run() async throws {
        let config = try makeConfiguration()
        if let writeConfigTo {
            do {
                try ConfigurationFile.write(ConfigurationFile.render(config), to: writeConfigTo)
            } catch {
                throw ValidationError("--write-config-to: \(error)")
            }
            // On stderr: with `-` (or /dev/stdout) standard output carries the configuration itself.
            FileHandle.standardError.write(Data("wrote the effective configuration to \(writeConfigTo)\n".utf8))
            return
        }
        let level = KlogHandler.level(forVerbosity: config.verbosity)
        LoggingSystem.bootstrap { label in KlogHandler(label: label, level: level) }
        let logger = Logger(label: "kube-proxy")
        if cleanup {
            do {
                try await ProxyBuilder.cleanup(logger: logger)
            } catch {
                logger.error("\(error)")
                throw ExitCode(1)
            }
            return
        }
        do {
            try await ProxyBuilder(configuration: config, logger: logger).run()
        } catch {
            logger.critical("kube-proxy stopped: \(error)")
            throw ExitCode(1)
        }
    }
}

/// glibc's malloc arenas, capped at one (glibc's default is eight per core).
///
/// Memory a thread frees returns to that thread's arena, and only threads using that arena
/// allocate from it again. At start-up the objects read from manifests or the API are decoded
/// on dispatch worker threads and freed after the first sync, while the listeners, rule sets
/// and kernel transactions are built on other threads: with several arenas neither reused the
/// other's free memory, and the peak RSS at 10k Services was both added up. One per core (two
/// here) still left it there (nftables mode 156 MiB, iptables mode 158 MiB); one arena, where
/// the main heap serves every thread, gives 126 and 137 MiB, userspace portals 120–125 MiB
/// instead of 125–131. The price is lock contention in the parallel manifest decoding (about
/// 0.1 s more at 10k Services, with the first sync still under 2 s). The relay threads allocate
/// nothing per request and one object per connection, and small blocks go through each
/// thread's own cache (tcache) without the arena's lock, so the data plane sees no difference.
enum MallocArenas {
    /// Applies the cap unless the user chose (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`); a no-op
    /// without glibc (`mallopt` is looked up at run time: Swift's Glibc module has no malloc.h).
    static func limitToOne() {
        #if canImport(Glibc)
            let environment = ProcessInfo.processInfo.environment
            guard environment["MALLOC_ARENA_MAX"] == nil, environment["GLIBC_TUNABLES"] == nil,
                let symbol = dlsym(nil, "mallopt")
            else { return }
            let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
            let arenaMax: Int32 = -8  // M_ARENA_MAX
            _ = mallopt(arenaMax, 1)
        #endif
    }
}
