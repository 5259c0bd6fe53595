/// What one service port's listener has relayed, for metrics and diagnostics
/// (`UserspaceProxy.statistics()`).
///
/// Counters are cumulative from the moment the listener opened (a port that is removed and added
/// again starts at zero, like a new Prometheus series); `activeConnections` and `udpSessions` are
/// gauges. Byte counts are bytes read from one side and handed to the other; they are folded in
/// after every read burst, so they lag the wire by at most one burst per connection.
public struct ListenerStatistics: Sendable, Hashable {
    /// TCP client connections currently open (accepted and not yet closed, dialling included).
    public var activeConnections: Int
    /// TCP client connections accepted.
    public var totalConnections: Int
    /// Payload bytes relayed from clients to endpoints (TCP and UDP).
    public var bytesClientToBackend: Int
    /// Payload bytes relayed from endpoints back to clients (TCP and UDP).
    public var bytesBackendToClient: Int
    /// Connections (TCP) or sessions (UDP) that got no endpoint: none configured, or every dial
    /// attempt failed.
    public var connectFailures: Int
    /// Dial attempts beyond the first of a TCP connection (docs/userspace-behaviour.md#tcp-dial-ladder).
    public var connectRetries: Int
    /// UDP sessions currently in the session table (opening or open).
    public var udpSessions: Int
    /// UDP sessions ever opened.
    public var udpSessionsTotal: Int
    /// UDP datagrams not relayed: no endpoint, session table full, socket not writable, or a
    /// reply for a session that had already ended.
    public var udpDroppedDatagrams: Int

    /// Creates a statistics value; every field defaults to zero.
    public init(
        activeConnections: Int = 0,
        totalConnections: Int = 0,
        bytesClientToBackend: Int = 0,
        bytesBackendToClient: Int = 0,
        connectFailures: Int = 0,
        connectRetries: Int = 0,
        udpSessions: Int = 0,
        udpSessionsTotal: Int = 0,
        udpDroppedDatagrams: Int = 0
    ) {
        self.activeConnections = activeConnections
        self.totalConnections = totalConnections
        self.bytesClientToBackend = bytesClientToBackend
        self.bytesBackendToClient = bytesBackendToClient
        self.connectFailures = connectFailures
        self.connectRetries = connectRetries
        self.udpSessions = udpSessions
        self.udpSessionsTotal = udpSessionsTotal
        self.udpDroppedDatagrams = udpDroppedDatagrams
    }
}
