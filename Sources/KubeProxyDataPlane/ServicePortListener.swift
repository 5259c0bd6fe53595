import NIOCore

/// One open listener of a service port, whatever its protocol.
///
/// The seam for UDP: `UserspaceProxy` only opens listeners through `UserspaceProxy.openListener`
/// and otherwise talks to this protocol, so a UDP listener (socket plus session table) plugs in by
/// conforming and adding one case there.
protocol ServicePortListener: Sendable {
    /// The port the kernel reports for the listening socket (the allocated one, or the
    /// ephemeral one it chose for port 0).
    var localPort: Int { get }
    /// The endpoint choice shared by the listener's connections.
    var balancer: ServiceBalancer { get }
    /// Stops accepting; established connections keep flowing (TCP-08).
    func close() async
}
