/// What the userspace data plane has counted for one service port since its listener opened.
///
/// Why cumulative values: the data plane only adds to plain counters on its hot path and hands
/// out a snapshot; `ProxyMetrics` turns consecutive snapshots into Prometheus counter
/// increments, so the relay never touches the metrics library. `activeConnections` is the one
/// instantaneous value.
public struct DataPlanePortStatistics: Sendable, Hashable {
    /// TCP connections open now (client side accepted and not yet closed).
    public var activeConnections: Int
    /// TCP connections accepted, ever.
    public var totalConnections: Int
    /// Bytes read from clients and written to endpoints.
    public var bytesClientToBackend: Int
    /// Bytes read from endpoints and written to clients.
    public var bytesBackendToClient: Int
    /// Client connections or sessions given up because no endpoint could be reached.
    public var connectFailures: Int
    /// Endpoint dials that failed and were retried on another endpoint.
    public var connectRetries: Int
    /// UDP sessions (client address ⇄ endpoint pairings) created, ever.
    public var udpSessions: Int

    /// Creates statistics; everything defaults to zero.
    public init(
        activeConnections: Int = 0, totalConnections: Int = 0, bytesClientToBackend: Int = 0,
        bytesBackendToClient: Int = 0, connectFailures: Int = 0, connectRetries: Int = 0, udpSessions: Int = 0
    ) {
        self.activeConnections = activeConnections
        self.totalConnections = totalConnections
        self.bytesClientToBackend = bytesClientToBackend
        self.bytesBackendToClient = bytesBackendToClient
        self.connectFailures = connectFailures
        self.connectRetries = connectRetries
        self.udpSessions = udpSessions
    }
}
