import KubeProxyCore

/// One thing `UserspaceProxy.apply` did to a service port, returned so the caller logs it (the
/// data plane itself only logs per-connection detail at debug level).
public struct DataPlaneChange: Hashable, Sendable, CustomStringConvertible {
    /// What happened.
    public enum Kind: String, Hashable, Sendable {
        /// A listener was opened.
        case started
        /// The endpoints or affinity of an existing listener changed (the listener was kept).
        case updated
        /// The listener was closed because the port is no longer desired.
        case stopped
        /// Opening a listener failed; it is retried on the next `apply`.
        case failed
        /// The protocol is not supported; reported once when the port first appears.
        case unsupported
    }

    /// What happened.
    public var kind: Kind
    /// The service port concerned.
    public var name: ServicePortName
    /// The address listeners bind to.
    public var listenAddress: IPAddress
    /// The listening port; `nil` when there is no listener (failed, unsupported).
    public var port: Int?
    /// The number of endpoints the balancer now has (0 for stopped, failed, unsupported).
    public var endpointCount: Int
    /// Why, for `failed` and `unsupported`; empty otherwise.
    public var reason: String

    /// Creates a change record.
    public init(
        kind: Kind,
        name: ServicePortName,
        listenAddress: IPAddress,
        port: Int?,
        endpointCount: Int,
        reason: String = ""
    ) {
        self.kind = kind
        self.name = name
        self.listenAddress = listenAddress
        self.port = port
        self.endpointCount = endpointCount
        self.reason = reason
    }

    /// A complete log line, e.g.
    /// `started proxy for default/web:http (TCP) on 0.0.0.0:34567 with 3 endpoints`.
    public var description: String {
        let subject = "proxy for \(name) (\(name.protocol))"
        let address = "\(listenAddress.bracketedDescription):\(port.map(String.init) ?? "-")"
        let endpoints = "\(endpointCount) endpoint\(endpointCount == 1 ? "" : "s")"
        switch kind {
        case .started: return "started \(subject) on \(address) with \(endpoints)"
        case .updated: return "updated \(subject) on \(address): now \(endpoints)"
        case .stopped: return "stopped \(subject) on \(address)"
        case .failed: return "failed to start \(subject) on \(listenAddress.bracketedDescription): \(reason)"
        case .unsupported: return "no \(subject): \(reason)"
        }
    }
}
