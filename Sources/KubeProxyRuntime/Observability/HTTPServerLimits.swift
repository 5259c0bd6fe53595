import NIOCore

/// How much an observability server (healthz, metrics, a per-service health check) may take from
/// the process, and how long a client may hold a connection without completing a request.
///
/// Why: these ports face load balancers, scrapers and (for healthz on `0.0.0.0`) anyone on the
/// node's network. Without limits, a few hundred idle connections used up the descriptor limit
/// and starved the data plane, and a client dribbling a request byte by byte held its
/// connection forever. Normal clients (a probe every few seconds, a scrape every 15 s) never
/// come near these limits.
public struct HTTPServerLimits: Sendable, Hashable {
    /// Connections served at once; beyond it the server stops accepting (the kernel's backlog
    /// holds newcomers) until one closes.
    public var maxConnections: Int
    /// How long a kept-alive connection may wait for the first byte of its next request.
    public var idleTimeout: TimeAmount
    /// How long a request may take to arrive completely: from the connection's opening for the
    /// first request, from its first byte for later ones. Also bounds the writing of a response
    /// to a client that does not read it. A slow ("slowloris") client is closed when it expires.
    public var requestTimeout: TimeAmount
    /// The first pause in accepting after an accept error such as `EMFILE`; doubled on each
    /// further failure up to `maximumAcceptBackoff`, reset by a successful accept.
    public var acceptBackoff: TimeAmount
    /// The longest pause in accepting after repeated accept errors.
    public var maximumAcceptBackoff: TimeAmount

    /// Creates limits; see the properties.
    public init(
        maxConnections: Int, idleTimeout: TimeAmount = .seconds(30), requestTimeout: TimeAmount = .seconds(10),
        acceptBackoff: TimeAmount = .milliseconds(50), maximumAcceptBackoff: TimeAmount = .seconds(1)
    ) {
        self.maxConnections = max(1, maxConnections)
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.acceptBackoff = acceptBackoff
        self.maximumAcceptBackoff = max(acceptBackoff, maximumAcceptBackoff)
    }

    /// `/healthz`, `/livez` and `/metrics`: 64 connections, 30 s idle, 10 s per request.
    public static let observability = HTTPServerLimits(maxConnections: 64)

    /// Each per-service health check server (one per `externalTrafficPolicy: Local` Service and
    /// address, so there can be many): 16 connections, 30 s idle, 10 s per request. A cloud load
    /// balancer probes from a handful of addresses.
    public static let serviceHealthCheck = HTTPServerLimits(maxConnections: 16)
}
