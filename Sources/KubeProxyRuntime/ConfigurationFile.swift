import KubeClient
import KubeProxyCore
import Yams

/// Reads and writes upstream's `KubeProxyConfiguration` file (`kubeproxy.config.k8s.io/v1alpha1`).
///
/// Strict like upstream's decoder: an unknown field, a wrong type or an invalid value fails with
/// the file name and the field path, so a typo never silently falls back to a default. Sections
/// upstream has but we do not act on (`ipvs`, `winkernel`, `detectLocal`, `logging.options`) are
/// accepted and ignored.
public enum ConfigurationFile {
    /// The only accepted `apiVersion`.
    public static let apiVersion = "kubeproxy.config.k8s.io/v1alpha1"
    /// The only accepted `kind`.
    public static let kind = "KubeProxyConfiguration"

    /// A problem in a configuration file, naming the file and the field.
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        /// The file.
        public var file: String
        /// The field path (`iptables.syncPeriod`), empty for the whole file.
        public var field: String
        /// What is wrong.
        public var message: String

        public var description: String {
            field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)"
        }
    }

    /// Parses `text` (YAML or JSON) read from `file` on top of upstream's defaults.
    public static func parse(_ text: String, file: String) throws(Error) -> KubeProxyConfiguration {
        // Checked before composing: composing already walks aliased keys, which for an alias bomb
        // never ends (docs/design.md#hostile-input-is-normal-input).
        if let violation = YAMLAliasGuard.violation(in: text) {
            throw Error(file: file, field: "", message: "refused: \(violation)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Error(file: file, field: "", message: "not valid YAML or JSON: \(error)")
        }
        guard let root, let mapping = root.mapping else {
            throw Error(file: file, field: "", message: "expected a KubeProxyConfiguration object")
        }
        var reader = FieldReader(file: file)
        var config = KubeProxyConfiguration()
        try reader.read(mapping, path: "", into: &config)
        return config
    }

    /// `config` (read from `file`) with its path fields resolved against the file's directory, as
    /// Kubernetes component configs resolve them: a config file and the kubeconfig it names are
    /// usually shipped together (a ConfigMap, `/etc/kubernetes/`), whatever the current directory
    /// of the process. Absolute and empty paths are kept; flags are not affected (they are applied
    /// afterwards and stay relative to the current directory).
    ///
    /// The path fields: `clientConnection.kubeconfig` and our `manifests`.
    public static func resolvingPaths(of config: KubeProxyConfiguration, relativeTo file: String) -> KubeProxyConfiguration {
        var resolved = config
        resolved.clientConnection.kubeconfig = resolve(config.clientConnection.kubeconfig, relativeTo: file)
        resolved.manifests = resolve(config.manifests, relativeTo: file)
        return resolved
    }

    /// `path` joined to the directory of `file` unless it is empty or absolute.
    static func resolve(_ path: String, relativeTo file: String) -> String {
        guard !path.isEmpty, !path.hasPrefix("/") else { return path }
        guard let slash = file.lastIndex(of: "/") else { return path }  // the file is in the current directory
        let directory = file[..<slash]
        return directory.isEmpty ? "/" + path : "\(directory)/\(path)"
    }

    /// The effective configuration as a file upstream's kube-proxy would accept (keys sorted).
    public static func render(_ config: KubeProxyConfiguration) -> String {
        func d(_ value: Duration) -> Node { Node(GoDuration.format(value)) }
        func b(_ value: Bool) -> Node { Node(value ? "true" : "false", Tag(.bool)) }
        func i(_ value: Int) -> Node { Node(String(value), Tag(.int)) }
        func s(_ value: String) -> Node { Node(value, Tag(.str), .doubleQuoted) }
        func map(_ pairs: [(String, Node)]) -> Node { Node(pairs.map { (Node($0.0), $0.1) }) }
        let clientConnection = config.clientConnection
        let root = map([
            ("apiVersion", Node(apiVersion)),
            ("kind", Node(kind)),
            ("bindAddress", s(config.bindAddress.description)),
            ("bindAddressHardFail", b(config.bindAddressHardFail)),
            (
                "clientConnection",
                map([
                    ("acceptContentTypes", s(clientConnection.acceptContentTypes)),
                    ("burst", i(clientConnection.burst)),
                    ("contentType", s(clientConnection.contentType)),
                    ("kubeconfig", s(clientConnection.kubeconfig)),
                    ("qps", Node(String(clientConnection.qps), Tag(.float))),
                ])
            ),
            ("clusterCIDR", s(config.clusterCIDR)),
            ("configSyncPeriod", d(config.configSyncPeriod)),
            (
                "conntrack",
                map([
                    ("maxPerCore", i(config.conntrack.maxPerCore)),
                    ("min", i(config.conntrack.min)),
                    ("tcpBeLiberal", b(config.conntrack.tcpBeLiberal)),
                    ("tcpCloseWaitTimeout", d(config.conntrack.tcpCloseWaitTimeout)),
                    ("tcpEstablishedTimeout", d(config.conntrack.tcpEstablishedTimeout)),
                    ("udpStreamTimeout", d(config.conntrack.udpStreamTimeout)),
                    ("udpTimeout", d(config.conntrack.udpTimeout)),
                ])
            ),
            (
                "detectLocal",
                map([
                    ("bridgeInterface", s(config.detectLocal.bridgeInterface)),
                    ("interfaceNamePrefix", s(config.detectLocal.interfaceNamePrefix)),
                ])
            ),
            ("detectLocalMode", s(config.detectLocalMode)),
            ("enableProfiling", b(config.enableProfiling)),
            ("featureGates", map(config.featureGates.sorted { $0.key < $1.key }.map { ($0.key, b($0.value)) })),
            ("healthzBindAddress", s(config.healthzBindAddress)),
            ("hostnameOverride", s(config.hostnameOverride)),
            (
                "iptables",
                map([
                    ("localhostNodePorts", b(config.iptables.localhostNodePorts)),
                    ("masqueradeAll", b(config.iptables.masqueradeAll)),
                    ("masqueradeBit", i(config.iptables.masqueradeBit)),
                    ("minSyncPeriod", d(config.iptables.minSyncPeriod)),
                    ("syncPeriod", d(config.iptables.syncPeriod)),
                ])
            ),
            ("logging", map([("format", s(config.loggingFormat)), ("verbosity", i(config.verbosity))])),
            ("manifestMaxBytes", i(config.manifestMaxBytes)),
            ("manifests", s(config.manifests)),
            ("metricsBindAddress", s(config.metricsBindAddress)),
            ("metricsPerServicePort", b(config.metricsPerServicePort)),
            ("mode", s(config.mode.rawValue)),
            ("proxyEventLoops", i(config.proxyEventLoops)),
            (
                "nftables",
                map([
                    ("masqueradeAll", b(config.nftables.masqueradeAll)),
                    ("masqueradeBit", i(config.nftables.masqueradeBit)),
                    ("minSyncPeriod", d(config.nftables.minSyncPeriod)),
                    ("syncPeriod", d(config.nftables.syncPeriod)),
                ])
            ),
            ("nodePortAddresses", Node(config.nodePortAddresses.map { s($0) })),
            ("oomScoreAdj", i(config.oomScoreAdj)),
            ("portRange", s(config.portRange)),
            ("showHiddenMetricsForVersion", s(config.showHiddenMetricsForVersion)),
            ("udpIdleTimeout", d(config.udpIdleTimeout)),
            ("useEndpoints", b(config.useEndpoints)),
            ("userspacePortals", b(config.userspacePortals)),
            ("userspaceTCPRelay", s(config.userspaceTCPRelay)),
        ])
        return (try? Yams.serialize(node: root)) ?? ""
    }
}

/// Walks the YAML tree field by field, so every error names its path.
struct FieldReader {
    let file: String

    func fail(_ path: String, _ message: String) -> ConfigurationFile.Error {
        ConfigurationFile.Error(file: file, field: path, message: message)
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func string(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> String {
        guard let scalar = node.scalar else { throw fail(path, "expected a string") }
        if node.tag.description == Tag.Name.null.rawValue { return "" }
        return scalar.string
    }

    func int(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> Int {
        guard let value = node.int else { throw fail(path, "expected an integer, got \"\(node.scalar?.string ?? "a structure")\"") }
        return value
    }

    func double(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> Double {
        guard let value = node.float ?? node.int.map(Double.init) else { throw fail(path, "expected a number") }
        return value
    }

    func bool(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> Bool {
        guard let value = node.bool else { throw fail(path, "expected true or false, got \"\(node.scalar?.string ?? "a structure")\"") }
        return value
    }

    func duration(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> Duration {
        let text = try string(node, path)
        if text.isEmpty { return .zero }
        do {
            return try GoDuration.parse(text)
        } catch {
            throw fail(path, error.description)
        }
    }

    func mapping(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> Node.Mapping {
        if node.tag.description == Tag.Name.null.rawValue, node.scalar != nil { return Node.Mapping([]) }
        guard let mapping = node.mapping else { throw fail(path, "expected an object") }
        return mapping
    }

    func strings(_ node: Node, _ path: String) throws(ConfigurationFile.Error) -> [String] {
        if node.tag.description == Tag.Name.null.rawValue, node.scalar != nil { return [] }
        guard let sequence = node.sequence else { throw fail(path, "expected a list of strings") }
        var out: [String] = []
        for (index, item) in sequence.enumerated() { out.append(try string(item, "\(path)[\(index)]")) }
        return out
    }

    /// Calls `body` for each key of `mapping`, failing on keys not in `known`.
    func fields(
        _ mapping: Node.Mapping, _ path: String, known: Set<String>,
        _ body: (String, Node, String) throws(ConfigurationFile.Error) -> Void
    ) throws(ConfigurationFile.Error) {
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let fieldPath = join(path, key)
            guard known.contains(key) else {
                throw fail(fieldPath, "unknown field (known here: \(known.sorted().joined(separator: ", ")))")
            }
            try body(key, value, fieldPath)
        }
    }

    mutating func read(_ root: Node.Mapping, path: String, into config: inout KubeProxyConfiguration) throws(ConfigurationFile.Error) {
        let known: Set<String> = [
            "apiVersion", "kind", "bindAddress", "bindAddressHardFail", "clientConnection", "clusterCIDR",
            "configSyncPeriod", "conntrack", "detectLocal", "detectLocalMode", "enableProfiling", "featureGates",
            "healthzBindAddress", "hostnameOverride", "iptables", "ipvs", "logging", "manifestMaxBytes", "manifests",
            "metricsBindAddress", "metricsPerServicePort", "mode", "nftables", "nodePortAddresses", "oomScoreAdj", "portRange",
            "proxyEventLoops",
            "showHiddenMetricsForVersion",
            "udpIdleTimeout", "useEndpoints", "userspacePortals", "userspaceTCPRelay", "winkernel", "windowsRunAsService",
        ]
        var sawAPIVersion = false, sawKind = false
        try fields(root, path, known: known) { (key, value, p) throws(ConfigurationFile.Error) in
            switch key {
            case "apiVersion":
                sawAPIVersion = true
                let v = try string(value, p)
                guard v == ConfigurationFile.apiVersion else { throw fail(p, "must be \(ConfigurationFile.apiVersion), got \"\(v)\"") }
            case "kind":
                sawKind = true
                let v = try string(value, p)
                guard v == ConfigurationFile.kind else { throw fail(p, "must be \(ConfigurationFile.kind), got \"\(v)\"") }
            case "bindAddress":
                let v = try string(value, p)
                if !v.isEmpty {
                    guard let ip = IPAddress(v) else { throw fail(p, "\"\(v)\" is not an IP address") }
                    config.bindAddress = ip
                }
            case "bindAddressHardFail": config.bindAddressHardFail = try bool(value, p)
            case "clientConnection": try readClientConnection(try mapping(value, p), p, &config)
            case "clusterCIDR": config.clusterCIDR = try string(value, p)
            case "configSyncPeriod": config.configSyncPeriod = try duration(value, p)
            case "conntrack": try readConntrack(try mapping(value, p), p, &config)
            case "detectLocal":
                try fields(try mapping(value, p), p, known: ["bridgeInterface", "interfaceNamePrefix"]) {
                    (k, v, q) throws(ConfigurationFile.Error) in
                    if k == "bridgeInterface" {
                        config.detectLocal.bridgeInterface = try string(v, q)
                    } else {
                        config.detectLocal.interfaceNamePrefix = try string(v, q)
                    }
                }
            case "detectLocalMode": config.detectLocalMode = try string(value, p)
            case "enableProfiling": config.enableProfiling = try bool(value, p)
            case "featureGates":
                for (k, v) in try mapping(value, p) {
                    let name = k.string ?? ""
                    config.featureGates[name] = try bool(v, join(p, name))
                }
            case "healthzBindAddress": config.healthzBindAddress = try string(value, p)
            case "hostnameOverride": config.hostnameOverride = try string(value, p)
            case "iptables": try readIPTables(try mapping(value, p), p, &config)
            case "logging":
                try fields(try mapping(value, p), p, known: ["format", "verbosity", "flushFrequency", "options"]) {
                    (k, v, q) throws(ConfigurationFile.Error) in
                    switch k {
                    case "format": config.loggingFormat = try string(v, q)
                    case "verbosity": config.verbosity = try int(v, q)
                    default: break
                    }
                }
            case "manifestMaxBytes": config.manifestMaxBytes = try int(value, p)
            case "manifests": config.manifests = try string(value, p)
            case "metricsBindAddress": config.metricsBindAddress = try string(value, p)
            case "metricsPerServicePort": config.metricsPerServicePort = try bool(value, p)
            case "proxyEventLoops": config.proxyEventLoops = try int(value, p)
            case "mode":
                let v = try string(value, p)
                if v.isEmpty {
                    config.mode = KubeProxyConfiguration().mode
                } else {
                    guard let mode = KubeProxyConfiguration.Mode(rawValue: v) else {
                        throw fail(p, "unknown mode \"\(v)\" (valid: userspace, iptables, nftables)")
                    }
                    config.mode = mode
                }
            case "nftables": try readNFTables(try mapping(value, p), p, &config)
            case "nodePortAddresses": config.nodePortAddresses = try strings(value, p)
            case "oomScoreAdj": config.oomScoreAdj = try int(value, p)
            case "portRange": config.portRange = try string(value, p)
            case "showHiddenMetricsForVersion": config.showHiddenMetricsForVersion = try string(value, p)
            case "udpIdleTimeout": config.udpIdleTimeout = try duration(value, p)
            case "userspacePortals": config.userspacePortals = try bool(value, p)
            case "userspaceTCPRelay": config.userspaceTCPRelay = try string(value, p)
            case "useEndpoints": config.useEndpoints = try bool(value, p)
            default: break  // ipvs, winkernel, windowsRunAsService: accepted, not used on this platform
            }
        }
        if !sawAPIVersion { throw fail("apiVersion", "required (\(ConfigurationFile.apiVersion))") }
        if !sawKind { throw fail("kind", "required (\(ConfigurationFile.kind))") }
    }

    func readClientConnection(_ m: Node.Mapping, _ path: String, _ config: inout KubeProxyConfiguration) throws(ConfigurationFile.Error) {
        try fields(m, path, known: ["kubeconfig", "qps", "burst", "contentType", "acceptContentTypes"]) {
            (k, v, p) throws(ConfigurationFile.Error) in
            switch k {
            case "kubeconfig": config.clientConnection.kubeconfig = try string(v, p)
            case "qps": config.clientConnection.qps = try double(v, p)
            case "burst": config.clientConnection.burst = try int(v, p)
            case "contentType": config.clientConnection.contentType = try string(v, p)
            default: config.clientConnection.acceptContentTypes = try string(v, p)
            }
        }
    }

    func readIPTables(_ m: Node.Mapping, _ path: String, _ config: inout KubeProxyConfiguration) throws(ConfigurationFile.Error) {
        try fields(
            m, path, known: ["masqueradeAll", "masqueradeBit", "localhostNodePorts", "minSyncPeriod", "syncPeriod", "snatNodeInternalIP"]
        ) {
            (k, v, p) throws(ConfigurationFile.Error) in
            switch k {
            case "masqueradeAll": config.iptables.masqueradeAll = try bool(v, p)
            case "masqueradeBit": config.iptables.masqueradeBit = try int(v, p)
            case "localhostNodePorts": config.iptables.localhostNodePorts = try bool(v, p)
            case "minSyncPeriod": config.iptables.minSyncPeriod = try duration(v, p)
            case "syncPeriod":
                let value = try duration(v, p)
                // Upstream defaults a zero period rather than rejecting it.
                config.iptables.syncPeriod = value == .zero ? .seconds(30) : value
            default: break
            }
        }
    }

    func readNFTables(_ m: Node.Mapping, _ path: String, _ config: inout KubeProxyConfiguration) throws(ConfigurationFile.Error) {
        try fields(m, path, known: ["masqueradeAll", "masqueradeBit", "minSyncPeriod", "syncPeriod"]) {
            (k, v, p) throws(ConfigurationFile.Error) in
            switch k {
            case "masqueradeAll": config.nftables.masqueradeAll = try bool(v, p)
            case "masqueradeBit": config.nftables.masqueradeBit = try int(v, p)
            case "minSyncPeriod": config.nftables.minSyncPeriod = try duration(v, p)
            default:
                let value = try duration(v, p)
                config.nftables.syncPeriod = value == .zero ? .seconds(30) : value
            }
        }
    }

    func readConntrack(_ m: Node.Mapping, _ path: String, _ config: inout KubeProxyConfiguration) throws(ConfigurationFile.Error) {
        try fields(
            m, path,
            known: [
                "maxPerCore", "min", "tcpEstablishedTimeout", "tcpCloseWaitTimeout", "tcpBeLiberal", "udpTimeout", "udpStreamTimeout",
            ]
        ) { (k, v, p) throws(ConfigurationFile.Error) in
            switch k {
            case "maxPerCore": config.conntrack.maxPerCore = try int(v, p)
            case "min": config.conntrack.min = try int(v, p)
            case "tcpEstablishedTimeout": config.conntrack.tcpEstablishedTimeout = try duration(v, p)
            case "tcpCloseWaitTimeout": config.conntrack.tcpCloseWaitTimeout = try duration(v, p)
            case "tcpBeLiberal": config.conntrack.tcpBeLiberal = try bool(v, p)
            case "udpTimeout": config.conntrack.udpTimeout = try duration(v, p)
            default: config.conntrack.udpStreamTimeout = try duration(v, p)
            }
        }
    }
}
