import KubeProxyCore

/// Why the data plane could not do something for a service port; the description is a complete
/// sentence for logs and `ListenerStatus.failed`.
public struct DataPlaneError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The failure, with its specific context.
    public enum Kind: Hashable, Sendable {
        /// Every port of `--proxy-port-range` is in use by other listeners.
        case portRangeExhausted(PortRange)
        /// `bind`/`listen` failed; `errno` when the system reported one, `detail` the error text.
        case bindFailed(port: Int, errno: Int32?, detail: String)
        /// The balancer has no endpoint for a new connection.
        case noEndpoints
        /// Every dial attempt failed; `lastError` is the last attempt's error.
        case dialsExhausted(attempts: Int, lastError: String)
    }

    /// The service port concerned.
    public var name: ServicePortName
    /// The address the listener binds to or the connection came in on.
    public var address: IPAddress
    /// What went wrong.
    public var kind: Kind

    /// Creates an error.
    public init(name: ServicePortName, address: IPAddress, kind: Kind) {
        self.name = name
        self.address = address
        self.kind = kind
    }

    /// A sentence naming the service port, the address and the problem.
    public var description: String {
        switch kind {
        case .portRangeExhausted(let range):
            return "\(name): no free port left in proxy port range \(range) on \(address)"
        case .bindFailed(let port, _, let detail):
            let shown = port == 0 ? "an ephemeral port" : "port \(port)"
            return "\(name): cannot listen on \(shown) of \(address): \(detail)"
        case .noEndpoints:
            return "\(name): no endpoints; closing the client connection"
        case .dialsExhausted(let attempts, let lastError):
            return "\(name): failed to connect to an endpoint after \(attempts) attempts (last: \(lastError))"
        }
    }
}
