/// The proxy's effective configuration: what flags (and, later, the config file) resolve to.
///
/// Field names follow upstream's `KubeProxyConfiguration` (`kubeproxy.config.k8s.io/v1alpha1`)
/// where one exists, so the file format can map onto it one to one. The value is plain data;
/// `validate()` is the single place that decides whether it can run.
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

    /// `mode` / `--proxy-mode`. Only userspace is implemented today, so it is the default.
    public var mode: Mode = .userspace
    /// `bindAddress` / `--bind-address`: where per-service proxy sockets listen.
    public var bindAddress: IPAddress = .v4(0)
    /// `portRange` / `--proxy-port-range`, unparsed (empty: the kernel picks).
    public var portRange: String = ""
    /// `hostnameOverride` / `--hostname-override`.
    public var hostnameOverride: String = ""
    /// `iptables.minSyncPeriod` / `--iptables-min-sync-period`.
    public var minSyncPeriod: Duration = .seconds(1)
    /// `iptables.syncPeriod` / `--iptables-sync-period`.
    public var syncPeriod: Duration = .seconds(30)
    /// `udpIdleTimeout` / `--udp-timeout`.
    public var udpIdleTimeout: Duration = .milliseconds(250)
    /// `--manifests`: our own no-cluster source (file or directory).
    public var manifests: String = ""
    /// `clientConnection.kubeconfig` / `--kubeconfig`.
    public var kubeconfig: String = ""
    /// `--master`.
    public var master: String = ""
    /// `-v`: klog verbosity.
    public var verbosity: Int = 0

    /// A configuration with upstream's defaults.
    public init() {}

    /// One problem with a configuration value, naming the flag/field.
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
        if syncPeriod <= .zero {
            problems.append(Problem(field: "--iptables-sync-period", message: "must be greater than 0"))
        }
        if minSyncPeriod < .zero {
            problems.append(Problem(field: "--iptables-min-sync-period", message: "must not be negative"))
        }
        if minSyncPeriod > syncPeriod && syncPeriod > .zero {
            problems.append(
                Problem(field: "--iptables-min-sync-period", message: "must not be greater than --iptables-sync-period"))
        }
        if udpIdleTimeout <= .zero {
            problems.append(Problem(field: "--udp-timeout", message: "must be greater than 0"))
        }
        if verbosity < 0 {
            problems.append(Problem(field: "-v", message: "must not be negative"))
        }
        if mode != .userspace {
            problems.append(
                Problem(
                    field: "--proxy-mode",
                    message: "\"\(mode.rawValue)\" is not implemented yet; only \"userspace\" is available"))
        }
        if !kubeconfig.isEmpty {
            problems.append(
                Problem(
                    field: "--kubeconfig",
                    message: "the Kubernetes API client is not implemented yet; use --manifests PATH to run without a cluster"))
        }
        if !master.isEmpty {
            problems.append(
                Problem(
                    field: "--master",
                    message: "the Kubernetes API client is not implemented yet; use --manifests PATH to run without a cluster"))
        }
        if manifests.isEmpty && kubeconfig.isEmpty && master.isEmpty {
            problems.append(
                Problem(
                    field: "--manifests",
                    message: "no source of Services: give --manifests PATH (a YAML/JSON file or a directory of them)"))
        }
        return problems
    }
}
