import NIOCore

/// Limits and timeouts of the UDP session table of every UDP service port (docs/userspace-behaviour.md#udp-sessions).
struct UDPSessionSettings: Sendable {
    /// A session with no datagram in either direction for this long is closed (`--udp-timeout`).
    var idleTimeout: TimeAmount
    /// The most sessions one service port holds (opening ones included).
    var sessionLimit: Int
    /// The most datagrams held for one session while its socket opens.
    var pendingLimit = 16
    /// The least time between two "session table full" warnings of one service port.
    var warningInterval: TimeAmount = .seconds(10)

    /// How often idle sessions are swept: a quarter of the idle timeout (at least 1 ms). A session
    /// therefore ends between `idleTimeout` and 1.25 × `idleTimeout` after its last datagram, and
    /// a sweep costs one pass over the table.
    var sweepInterval: TimeAmount {
        max(.milliseconds(1), .nanoseconds(idleTimeout.nanoseconds / 4))
    }
}
