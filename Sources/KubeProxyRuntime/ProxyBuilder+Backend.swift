import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyHost
import Logging
import NIOPosix

/// What a mode's backend may take from the builder: the configuration and the shared
/// resources the builder owns (event loops, data-plane metrics) and shuts down.
struct BackendContext: Sendable {
    /// What to run.
    var configuration: KubeProxyConfiguration
    /// This node's name (`--hostname-override` or the host name).
    var nodeName: String
    /// The IP family this backend programs (kernel modes get one backend per family).
    var family: IPFamily
    /// The event loops every NIO component shares.
    var group: MultiThreadedEventLoopGroup
    /// Where a data plane's per-listener statistics go (served on `/metrics`).
    var dataPlaneMetrics: DataPlaneMetrics
    /// The root logger; backends log through `child(_:)` loggers of it.
    var logger: Logger
    /// iptables mode: the nfacct counters' metrics when the objects exist (rules may count into
    /// them), else nil.
    var nfacctMetrics: NFAcctMetrics?
}

extension ProxyBuilder {
    /// Every mode's backend type, for `--cleanup` (which removes every mode's leftovers, as
    /// upstream's does, whatever `--proxy-mode` says).
    static let backendTypes: [any ProxyBackend.Type] = [UserspaceBackend.self, IPTablesBackend.self, NFTablesBackend.self]

    /// The backend for `--proxy-mode`: the one place that maps a mode to its backend, one line
    /// per mode.
    static func backend(for context: BackendContext) async throws -> any ProxyBackend {
        switch context.configuration.mode {
        case .userspace: return try await userspaceBackend(context)
        case .iptables: return try IPTablesBackend.make(context)
        case .nftables: return try nftablesBackend(context)
        }
    }

    /// The error for a mode this build has no backend for (validation refuses such modes
    /// earlier; this keeps the switch total without a crash path).
    static func unavailable(_ mode: KubeProxyConfiguration.Mode) -> KubeProxyConfiguration.Problem {
        KubeProxyConfiguration.Problem(field: "--proxy-mode", message: "\(mode.rawValue) mode is not available in this build")
    }

    /// The userspace backend: NIO listeners per service port, and portal rules when they can
    /// be installed here (see `portalManager`). Logs the listener capacity once, because it
    /// bounds how many service ports can be served.
    static func userspaceBackend(_ context: BackendContext) async throws -> UserspaceBackend {
        let configuration = context.configuration
        let logger = context.logger
        let portRange: PortRange? = (try? PortRange.parse(configuration.portRange)) ?? nil
        let dataPlane = UserspaceProxy(
            group: context.group, bindAddress: configuration.bindAddress, portRange: portRange,
            udpIdleTimeout: configuration.udpIdleTimeout,
            tcpRelay: TCPRelayEngine(rawValue: configuration.userspaceTCPRelay) ?? .platformDefault,
            logger: logger.child("dataplane"))
        let capacity = dataPlane.listenerCapacity
        logger.info(
            "service port listener capacity",
            metadata: [
                "descriptorLimit": "\(capacity.descriptorLimit)", "reserve": "\(capacity.reserve)",
                "keptForConnections": "\(capacity.connectionShare)", "listeners": "\(capacity.descriptorListeners)",
                "ports": "\(capacity.portsDescription)", "tcpRelay": "\(dataPlane.tcpRelayEngine.rawValue)",
            ])
        let portals = try await portalManager(configuration, logger: logger.child("portals"))
        let conntrack: (any ConntrackExecutor)? = portals != nil && SystemConntrack().isAvailable ? SystemConntrack() : nil
        return UserspaceBackend(
            nodeName: context.nodeName, dataPlane: dataPlane, portals: portals, conntrack: conntrack,
            auxiliaryServices: [StatisticsService(dataPlane: dataPlane, metrics: context.dataPlaneMetrics)],
            logger: logger.child("proxier"))
    }

    /// `--cleanup`: removes what every mode may have left in the kernel (userspace: the portal
    /// chains and jumps of both families). Runs every mode's cleanup even when one fails, and
    /// throws when any failed (so the exit status says so).
    public static func cleanup(logger: Logger) async throws {
        var failures: [String] = []
        for type in backendTypes {
            do {
                try await type.cleanup(logger: logger)
            } catch let problem as KubeProxyConfiguration.Problem {
                failures.append(problem.message)
            } catch {
                failures.append("\(error)")
            }
        }
        if !failures.isEmpty {
            throw KubeProxyConfiguration.Problem(field: "--cleanup", message: failures.joined(separator: "; "))
        }
    }
}

extension BackendContext {
    /// The options both kernel modes share, for this context's family, worked out once for
    /// both as upstream does: the local-traffic detector from `--detect-local-mode` and its
    /// flags, and the node's addresses (`nodeAddresses(logger:)`).
    /// - Parameters:
    ///   - masqueradeBit: the mode's `masqueradeBit` setting.
    ///   - masqueradeAll: the mode's `masqueradeAll` setting.
    ///   - nodePortAddresses: the `--nodeport-addresses` entries as the mode reads them
    ///     (nftables mode turns an empty list into `primary`).
    ///   - logger: where a missing detector or node IP is reported.
    func kernelModeOptions(
        masqueradeBit: Int, masqueradeAll: Bool, nodePortAddresses: [String], logger: Logger
    ) throws -> KernelModeOptions {
        let detector: LocalTrafficDetector
        do {
            detector = try LocalTrafficDetector.make(
                mode: configuration.detectLocalMode, clusterCIDR: configuration.clusterCIDR,
                bridgeInterface: configuration.detectLocal.bridgeInterface,
                interfaceNamePrefix: configuration.detectLocal.interfaceNamePrefix, family: family)
        } catch {
            throw KubeProxyConfiguration.Problem(field: error.field, message: error.message)
        }
        if detector == .none {
            logger.info(
                "no local-traffic detector for this family; ClusterIP traffic is not masqueraded by source",
                metadata: ["family": "\(family)"])
        }
        let addresses = nodeAddresses(logger: logger)
        return KernelModeOptions(
            family: family, topology: NodeTopology(nodeName: nodeName), masqueradeBit: masqueradeBit,
            masqueradeAll: masqueradeAll, localDetector: detector,
            nodePortAddresses: NodePortAddresses(nodePortAddresses, family: family), nodeIPs: [addresses.nodeIP],
            localAddresses: addresses.local)
    }

    /// This node's primary IP of the family and all its local addresses of the family.
    ///
    /// The node IP is `--bind-address` when it names one of this family, else the address of
    /// the default route; when neither exists it is a warning and loopback is assumed, as
    /// upstream's kube-proxy does for both kernel modes.
    func nodeAddresses(logger: Logger) -> (nodeIP: IPAddress, local: Set<IPAddress>) {
        let nodeIP: IPAddress
        if !configuration.bindAddress.isUnspecified && configuration.bindAddress.family == family {
            nodeIP = configuration.bindAddress
        } else if let primary = try? LocalAddresses.primaryAddress(family: family) {
            nodeIP = primary
        } else {
            nodeIP = family == .ipv4 ? .v4(0x7f00_0001) : .v6(0, 1)
            logger.warning("could not determine the node IP; assuming loopback", metadata: ["nodeIP": "\(nodeIP)"])
        }
        let local = ((try? LocalAddresses.current()) ?? []).filter { $0.family == family }
        return (nodeIP, local)
    }
}
