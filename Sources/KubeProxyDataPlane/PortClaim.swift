import KubeProxyCore

/// A port the proxy holds open without serving it, so no other program can take it while the
/// kernel's rules send that port's traffic to a proxy listener (docs/userspace-behaviour.md#port-claims): NodePorts on all
/// addresses, and service ports of external/load-balancer IPs that are local to the node.
///
/// Identity for holding is `address`, `port` and `protocol`; `owner` only says which service
/// port wants it (for messages and conflicts).
public struct PortClaim: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The local address to hold the port on; `nil` means every address of the proxy's family
    /// (`0.0.0.0` or `::`), as for a NodePort.
    public var address: IPAddress?
    /// The port, 1…65535.
    public var port: Int
    /// TCP or UDP (SCTP cannot be held and is reported as failed).
    public var `protocol`: TransportProtocol
    /// The service port that needs the claim.
    public var owner: ServicePortName

    /// Creates a claim.
    public init(address: IPAddress?, port: Int, protocol: TransportProtocol, owner: ServicePortName) {
        self.address = address
        self.port = port
        self.protocol = `protocol`
        self.owner = owner
    }

    /// The socket part alone: `NodePort 30080/TCP` for an all-addresses claim,
    /// `port 10.0.0.5:80/TCP` otherwise.
    public var socketDescription: String {
        guard let address else { return "NodePort \(port)/\(`protocol`)" }
        return "port \(address.bracketedDescription):\(port)/\(`protocol`)"
    }

    /// E.g. `NodePort 30080/TCP for default/web:http`.
    public var description: String { "\(socketDescription) for \(owner)" }

    /// Orders by address (all-addresses first), port, protocol, owner: a deterministic order for
    /// results and conflicts.
    public static func < (lhs: PortClaim, rhs: PortClaim) -> Bool {
        if lhs.address != rhs.address {
            guard let left = lhs.address else { return true }
            guard let right = rhs.address else { return false }
            return left < right
        }
        return (lhs.port, lhs.protocol, lhs.owner) < (rhs.port, rhs.protocol, rhs.owner)
    }
}
