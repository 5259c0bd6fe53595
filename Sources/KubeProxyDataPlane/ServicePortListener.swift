import NIOCore

/// One open listener of a service port, whatever its protocol.
///
/// `UserspaceProxy` opens listeners only through `UserspaceProxy.openListener` (which switches on
/// the protocol: `TCPListener`, `UDPListener`) and otherwise talks to this protocol.
///
/// Class-bound: a reference is one word plus its witness table where an open existential took
/// five, in a table of one entry per service port.
protocol ServicePortListener: AnyObject, Sendable {
    /// The port the kernel reports for the listening socket (the allocated one, or the
    /// ephemeral one it chose for port 0).
    var localPort: Int { get }
    /// The endpoint choice shared by the listener's connections.
    var balancer: ServiceBalancer { get }
    /// Stops accepting; established TCP connections keep flowing (docs/userspace-behaviour.md#tcp-changes), UDP sessions end.
    func close() async
}
