/// The proxy's effective configuration: what the config file and flags resolve to.
///
/// Field names follow upstream's `KubeProxyConfiguration` (`kubeproxy.config.k8s.io/v1alpha1`),
/// nested the same way, so the file maps onto it one to one and `--write-config-to` writes a
/// file upstream would accept. The value is plain data; `validate()` is the single place that
/// decides whether it can run. Fields we accept but do not act on yet (conntrack sizing,
/// masquerade settings, `nodePortAddresses`, ...) are kept so they round-trip.
public struct KubeProxyConfiguration: Sendable, Equatable {
    /// Which backend programs the node.
    public enum Mode: String, Sendable, CaseIterable {
        /// Our own listening sockets per service port (the classic design).
        case userspace
        /// Kernel balancing through iptables rules.
        case iptables
        /// Kernel balancing through one nftables table.
        case nftables
    }

    /// `clientConnection`.
    public struct ClientConnection: Sendable, Equatable {
        /// `kubeconfig` / `--kubeconfig`.
        public var kubeconfig = ""
        /// `qps` / `--kube-api-qps`.
        public var qps = 5.0
        /// `burst` / `--kube-api-burst`.
        public var burst = 10
        /// `contentType` / `--kube-api-content-type`.
        public var contentType = "application/vnd.kubernetes.protobuf"
        /// `acceptContentTypes`.
        public var acceptContentTypes = ""
    }

    /// `iptables` (periods also drive the userspace sync, as upstream).
    public struct IPTables: Sendable, Equatable {
        /// `masqueradeAll` / `--masquerade-all`.
        public var masqueradeAll = false
        /// `masqueradeBit` / `--iptables-masquerade-bit` (0...31).
        public var masqueradeBit = 14
        /// `localhostNodePorts` / `--iptables-localhost-nodeports`.
        public var localhostNodePorts = true
        /// `minSyncPeriod` / `--iptables-min-sync-period`.
        public var minSyncPeriod: Duration = .seconds(1)
        /// `syncPeriod` / `--iptables-sync-period`.
        public var syncPeriod: Duration = .seconds(30)
    }

    /// `detectLocal`: the settings of the interface-based `detectLocalMode`s.
    public struct DetectLocal: Sendable, Equatable {
        /// `bridgeInterface` / `--pod-bridge-interface` (mode `BridgeInterface`).
        public var bridgeInterface = ""
        /// `interfaceNamePrefix` / `--pod-interface-name-prefix` (mode `InterfaceNamePrefix`).
        public var interfaceNamePrefix = ""
    }

    /// `nftables`.
    public struct NFTables: Sendable, Equatable {
        /// `masqueradeAll`.
        public var masqueradeAll = false
        /// `masqueradeBit` (0...31).
        public var masqueradeBit = 14
        /// `minSyncPeriod`.
        public var minSyncPeriod: Duration = .seconds(1)
        /// `syncPeriod`.
        public var syncPeriod: Duration = .seconds(30)
    }

    /// `conntrack`.
    public struct Conntrack: Sendable, Equatable {
        /// `maxPerCore` / `--conntrack-max-per-core`.
        public var maxPerCore = 32768
        /// `min` / `--conntrack-min`.
        public var min = 131072
        /// `tcpEstablishedTimeout` / `--conntrack-tcp-timeout-established`.
        public var tcpEstablishedTimeout: Duration = .seconds(86400)
        /// `tcpCloseWaitTimeout` / `--conntrack-tcp-timeout-close-wait`.
        public var tcpCloseWaitTimeout: Duration = .seconds(3600)
        /// `tcpBeLiberal`.
        public var tcpBeLiberal = false
        /// `udpTimeout`.
        public var udpTimeout: Duration = .zero
        /// `udpStreamTimeout`.
        public var udpStreamTimeout: Duration = .zero
    }

    /// `mode` / `--proxy-mode`. Only userspace is implemented today, so it is our default
    /// (upstream's empty mode means iptables).
    public var mode: Mode = .userspace
    /// `bindAddress` / `--bind-address`: where per-service proxy sockets listen.
    public var bindAddress: IPAddress = .v4(0)
    /// `healthzBindAddress` / `--healthz-bind-address` (`host:port`).
    public var healthzBindAddress = "0.0.0.0:10256"
    /// `metricsBindAddress` / `--metrics-bind-address` (`host:port`).
    public var metricsBindAddress = "127.0.0.1:10249"
    /// `bindAddressHardFail` / `--bind-address-hard-fail`.
    public var bindAddressHardFail = false
    /// `portRange` / `--proxy-port-range`, unparsed (empty: the kernel picks).
    public var portRange: String = ""
    /// `hostnameOverride` / `--hostname-override`.
    public var hostnameOverride: String = ""
    /// `iptables`.
    public var iptables = IPTables()
    /// `nftables`.
    public var nftables = NFTables()
    /// `conntrack`.
    public var conntrack = Conntrack()
    /// `clientConnection`.
    public var clientConnection = ClientConnection()
    /// `udpIdleTimeout` / `--udp-timeout` (upstream dropped it with the userspace mode; we keep it).
    public var udpIdleTimeout: Duration = .milliseconds(250)
    /// `configSyncPeriod` / `--config-sync-period`.
    public var configSyncPeriod: Duration = .seconds(900)
    /// `clusterCIDR` / `--cluster-cidr`.
    public var clusterCIDR = ""
    /// `detectLocalMode` / `--detect-local-mode`.
    public var detectLocalMode = ""
    /// `detectLocal`.
    public var detectLocal = DetectLocal()
    /// `nodePortAddresses` / `--nodeport-addresses`.
    public var nodePortAddresses: [String] = []
    /// `oomScoreAdj` / `--oom-score-adj` (-1000...1000).
    public var oomScoreAdj = -999
    /// `enableProfiling` / `--profiling`.
    public var enableProfiling = false
    /// `showHiddenMetricsForVersion`.
    public var showHiddenMetricsForVersion = ""
    /// `featureGates` / `--feature-gates`.
    public var featureGates: [String: Bool] = [:]
    /// `logging.verbosity` / `-v`: klog verbosity.
    public var verbosity: Int = 0
    /// `logging.format`.
    public var loggingFormat = "text"
    /// `manifests` / `--manifests`: our own no-cluster source (file or directory).
    public var manifests: String = ""
    /// `manifestMaxBytes` / `--manifest-max-bytes` (our extension): the largest manifest file
    /// read, 16 MiB by default; a larger file is refused unread and reported once.
    public var manifestMaxBytes = 16 << 20
    /// `--master`.
    public var master: String = ""
    /// `metricsPerServicePort` / `--metrics-per-service-port` (our extension): export the
    /// `kubeproxy_userspace_*` series per service port instead of per protocol. Off by default,
    /// as upstream keeps per-service series off: at 10,000 service ports they are megabytes per
    /// scrape.
    public var metricsPerServicePort = false
    /// `proxyEventLoops` / `--proxy-event-loops` (our extension): the event-loop threads of the
    /// userspace data plane; 0 (the default) means one per core. A busy TCP service port listens
    /// on every loop (`SO_REUSEPORT`), so this is how many cores relaying may use.
    public var proxyEventLoops = 0
    /// `userspacePortals` / `--userspace-portals` (our extension): install the userspace portal
    /// rules when root and iptables allow it (upstream always does). `false` serves the proxy
    /// sockets only, e.g. for a proxy on loopback next to other software.
    public var userspacePortals = true
    /// `userspaceTCPRelay` / `--userspace-tcp-relay` (our extension): what relays the bytes of
    /// TCP service ports in userspace mode: `epoll` (the default: the proxy's own relay threads,
    /// one per event loop) or `nio` (SwiftNIO channels, the relay of earlier releases).
    public var userspaceTCPRelay = "epoll"
    /// The values `userspaceTCPRelay` accepts.
    public static let userspaceTCPRelays = ["epoll", "nio"]
    /// `--use-endpoints` (our extension): watch legacy core/v1 Endpoints instead of
    /// EndpointSlices (also chosen automatically when the server lacks discovery.k8s.io/v1).
    public var useEndpoints = false

    /// A configuration with upstream's defaults.
    public init() {}

    /// `iptables.minSyncPeriod`: the least time between syncs.
    public var minSyncPeriod: Duration {
        get { iptables.minSyncPeriod }
        set { iptables.minSyncPeriod = newValue }
    }

    /// The least time between syncs of the selected mode: `nftables.minSyncPeriod` in
    /// nftables mode, else `iptables.minSyncPeriod` (which also drives userspace mode).
    public var modeMinSyncPeriod: Duration { mode == .nftables ? nftables.minSyncPeriod : iptables.minSyncPeriod }

    /// The most time between syncs of the selected mode (`nftables.syncPeriod` in nftables
    /// mode, else `iptables.syncPeriod`).
    public var modeSyncPeriod: Duration { mode == .nftables ? nftables.syncPeriod : iptables.syncPeriod }

    /// `iptables.syncPeriod`: the most time between syncs.
    public var syncPeriod: Duration {
        get { iptables.syncPeriod }
        set { iptables.syncPeriod = newValue }
    }

    /// `clientConnection.kubeconfig`.
    public var kubeconfig: String {
        get { clientConnection.kubeconfig }
        set { clientConnection.kubeconfig = newValue }
    }

    /// One problem with a configuration value, naming the flag and/or field.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        /// The flag (or field) at fault, e.g. `--iptables-sync-period`.
        public var field: String
        /// What is wrong.
        public var message: String

        /// Creates a problem.
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }

        public var description: String { "\(field): \(message)" }
    }

    /// Everything wrong with this configuration; empty means it can run.
    public func validate() -> [Problem] {
        var problems: [Problem] = []
        func check(_ ok: Bool, _ field: String, _ message: String) {
            if !ok { problems.append(Problem(field: field, message: message)) }
        }
        check(syncPeriod > .zero, "--iptables-sync-period (iptables.syncPeriod)", "must be greater than 0")
        check(minSyncPeriod >= .zero, "--iptables-min-sync-period (iptables.minSyncPeriod)", "must not be negative")
        check(
            !(minSyncPeriod > syncPeriod && syncPeriod > .zero), "--iptables-min-sync-period (iptables.minSyncPeriod)",
            "must not be greater than iptables.syncPeriod")
        check(udpIdleTimeout > .zero, "--udp-timeout (udpIdleTimeout)", "must be greater than 0")
        check(configSyncPeriod > .zero, "--config-sync-period (configSyncPeriod)", "must be greater than 0")
        check(proxyEventLoops >= 0, "--proxy-event-loops (proxyEventLoops)", "must not be negative")
        check(
            Self.userspaceTCPRelays.contains(userspaceTCPRelay), "--userspace-tcp-relay (userspaceTCPRelay)",
            "must be one of \(Self.userspaceTCPRelays.joined(separator: ", ")), got \"\(userspaceTCPRelay)\"")
        check(manifestMaxBytes > 0, "--manifest-max-bytes (manifestMaxBytes)", "must be greater than 0")
        check(verbosity >= 0, "-v (logging.verbosity)", "must not be negative")
        check((0...31).contains(iptables.masqueradeBit), "iptables.masqueradeBit", "must be within 0...31")
        check((0...31).contains(nftables.masqueradeBit), "nftables.masqueradeBit", "must be within 0...31")
        check((-1000...1000).contains(oomScoreAdj), "--oom-score-adj (oomScoreAdj)", "must be within -1000...1000")
        check(clientConnection.qps >= 0, "clientConnection.qps", "must not be negative")
        check(clientConnection.burst >= 0, "clientConnection.burst", "must not be negative")
        check(conntrack.maxPerCore >= 0, "conntrack.maxPerCore", "must not be negative")
        check(conntrack.min >= 0, "conntrack.min", "must not be negative")
        // Each example is the field's own default, so a copied example is a working value.
        for (field, value, example) in [
            ("--healthz-bind-address (healthzBindAddress)", healthzBindAddress, "0.0.0.0:10256 or [::]:10256"),
            ("--metrics-bind-address (metricsBindAddress)", metricsBindAddress, "127.0.0.1:10249 or [::1]:10249"),
        ] where !value.isEmpty {
            check(HostPort(value) != nil, field, "\"\(value)\" is not IP:port (e.g. \(example))")
        }
        for (i, entry) in nodePortAddresses.enumerated() {
            check(
                ["primary", "localhost", "all"].contains(entry) || CIDR(entry) != nil,
                "--nodeport-addresses (nodePortAddresses[\(i)])", "\"\(entry)\" is neither a CIDR nor primary/localhost/all")
        }
        if !clusterCIDR.isEmpty {
            for part in clusterCIDR.split(separator: ",") {
                check(CIDR(part) != nil, "--cluster-cidr (clusterCIDR)", "\"\(part)\" is not a CIDR")
            }
        }
        check(nftables.syncPeriod > .zero, "nftables.syncPeriod", "must be greater than 0")
        check(
            nftables.minSyncPeriod >= .zero && nftables.minSyncPeriod <= nftables.syncPeriod, "nftables.minSyncPeriod",
            "must be within 0...nftables.syncPeriod")
        check(
            manifests.isEmpty || (kubeconfig.isEmpty && master.isEmpty), "--manifests",
            "cannot be combined with --kubeconfig or --master: choose manifest files or an API server")
        return problems
    }
}

/// `ip:port` or `[ipv6]:port`, as the bind-address fields take them.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    /// The address.
    public var ip: IPAddress
    /// The port (0...65535).
    public var port: Int

    /// Parses `ip:port` / `[v6]:port`; nil when malformed.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let ip = IPAddress(host) else { return nil }
        self.ip = ip
        self.port = port
    }

    /// `ip:port` with brackets for IPv6.
    public var description: String { "\(ip.bracketedDescription):\(port)" }
}
