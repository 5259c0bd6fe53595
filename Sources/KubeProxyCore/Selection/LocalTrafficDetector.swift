/// How a kernel mode tells traffic that comes from pods on this node ("local" traffic, which
/// keeps its source address) from everything else (which is masqueraded on its way to a
/// ClusterIP, and short-circuited differently for `externalTrafficPolicy: Local`).
///
/// Upstream's `--detect-local-mode` values map onto the cases; both the iptables and the
/// nftables renderer consume this one value, so the rule "what counts as local" is decided once.
public enum LocalTrafficDetector: Hashable, Sendable {
    /// No detector: nothing is treated as pod traffic (upstream's no-op detector, used when
    /// ClusterCIDR mode has no CIDR of this family).
    case none
    /// Pods' sources lie in this prefix (`ClusterCIDR` with `--cluster-cidr`, or `NodeCIDR`
    /// with the Node's `spec.podCIDRs`).
    case cidr(CIDR)
    /// Pod traffic arrives through this bridge (`BridgeInterface`, `--pod-bridge-interface`).
    case bridgeInterface(String)
    /// Pod traffic arrives on interfaces whose names start with this prefix
    /// (`InterfaceNamePrefix`, `--pod-interface-name-prefix`).
    case interfaceNamePrefix(String)

    /// Whether some traffic is detected as local.
    public var isEnabled: Bool { self != .none }

    /// A problem with the detect-local settings, naming the flag at fault.
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        /// The flag or configuration field, e.g. `--detect-local-mode (detectLocalMode)`.
        public var field: String
        /// What is wrong with it.
        public var message: String
        public var description: String { "\(field): \(message)" }
    }

    /// The detector for `family` from upstream's settings.
    ///
    /// - Parameters:
    ///   - mode: `detectLocalMode`; empty means `ClusterCIDR`, as upstream.
    ///   - clusterCIDR: `--cluster-cidr`, comma-separated, at most one prefix per family.
    ///   - nodePodCIDRs: the Node object's `spec.podCIDRs` (for `NodeCIDR`).
    ///   - bridgeInterface: `detectLocal.bridgeInterface` / `--pod-bridge-interface`.
    ///   - interfaceNamePrefix: `detectLocal.interfaceNamePrefix` / `--pod-interface-name-prefix`.
    /// - Returns: `.none` when the mode's input has nothing for this family (upstream logs and
    ///   runs without a detector rather than failing).
    public static func make(
        mode: String, clusterCIDR: String, nodePodCIDRs: [String] = [], bridgeInterface: String = "",
        interfaceNamePrefix: String = "", family: IPFamily
    ) throws(Problem) -> LocalTrafficDetector {
        func firstOfFamily(_ entries: [String], field: String) throws(Problem) -> LocalTrafficDetector {
            for entry in entries where !entry.trimmingWhitespace().isEmpty {
                guard let cidr = CIDR(entry) else { throw Problem(field: field, message: "\"\(entry)\" is not a CIDR") }
                if cidr.address.family == family { return .cidr(cidr) }
            }
            return .none
        }
        switch mode {
        case "", "ClusterCIDR":
            return try firstOfFamily(clusterCIDR.split(separator: ",").map(String.init), field: "--cluster-cidr (clusterCIDR)")
        case "NodeCIDR":
            return try firstOfFamily(nodePodCIDRs, field: "Node spec.podCIDRs")
        case "BridgeInterface":
            guard !bridgeInterface.isEmpty else {
                throw Problem(
                    field: "--pod-bridge-interface (detectLocal.bridgeInterface)",
                    message: "must be set when --detect-local-mode is BridgeInterface")
            }
            return .bridgeInterface(bridgeInterface)
        case "InterfaceNamePrefix":
            guard !interfaceNamePrefix.isEmpty else {
                throw Problem(
                    field: "--pod-interface-name-prefix (detectLocal.interfaceNamePrefix)",
                    message: "must be set when --detect-local-mode is InterfaceNamePrefix")
            }
            return .interfaceNamePrefix(interfaceNamePrefix)
        default:
            throw Problem(
                field: "--detect-local-mode (detectLocalMode)",
                message: "\"\(mode)\" is not one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix")
        }
    }
}
