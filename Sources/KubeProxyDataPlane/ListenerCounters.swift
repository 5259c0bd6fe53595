import Synchronization

/// The live counters behind one listener's `ListenerStatistics`.
///
/// Written from every event loop that serves a connection of the listener, read by
/// `UserspaceProxy.statistics()`. Relaxed atomics: each counter is independent, readers want a
/// recent value, not a consistent cut across counters. Handlers batch their byte counts per read
/// burst, so the hot path costs one atomic add per burst, not per buffer.
final class ListenerCounters: Sendable {
    /// How bytes flowed, for `relayed(_:bytes:)`.
    enum Direction: Sendable {
        case clientToBackend
        case backendToClient
    }

    private let activeConnections = Atomic<Int>(0)
    private let totalConnections = Atomic<Int>(0)
    private let bytesClientToBackend = Atomic<Int>(0)
    private let bytesBackendToClient = Atomic<Int>(0)
    private let connectFailures = Atomic<Int>(0)
    private let connectRetries = Atomic<Int>(0)
    private let udpSessions = Atomic<Int>(0)
    private let udpSessionsTotal = Atomic<Int>(0)
    private let udpDroppedDatagrams = Atomic<Int>(0)

    /// Creates zeroed counters.
    init() {}

    /// A TCP client was accepted.
    func connectionAccepted() {
        activeConnections.wrappingAdd(1, ordering: .relaxed)
        totalConnections.wrappingAdd(1, ordering: .relaxed)
    }

    /// An accepted TCP client's channel closed.
    func connectionClosed() {
        activeConnections.wrappingSubtract(1, ordering: .relaxed)
    }

    /// `bytes` were relayed in `direction`.
    func relayed(_ direction: Direction, bytes: Int) {
        guard bytes > 0 else { return }
        switch direction {
        case .clientToBackend: bytesClientToBackend.wrappingAdd(bytes, ordering: .relaxed)
        case .backendToClient: bytesBackendToClient.wrappingAdd(bytes, ordering: .relaxed)
        }
    }

    /// A connection or session got no endpoint.
    func connectFailed() {
        connectFailures.wrappingAdd(1, ordering: .relaxed)
    }

    /// A dial attempt beyond the first was made.
    func connectRetried() {
        connectRetries.wrappingAdd(1, ordering: .relaxed)
    }

    /// A UDP session was opened.
    func udpSessionOpened() {
        udpSessionsTotal.wrappingAdd(1, ordering: .relaxed)
    }

    /// The UDP session table now holds `count` sessions.
    func setUDPSessions(_ count: Int) {
        udpSessions.store(count, ordering: .relaxed)
    }

    /// `count` datagrams were dropped.
    func droppedDatagrams(_ count: Int = 1) {
        guard count > 0 else { return }
        udpDroppedDatagrams.wrappingAdd(count, ordering: .relaxed)
    }

    /// The current values.
    func snapshot() -> ListenerStatistics {
        ListenerStatistics(
            activeConnections: activeConnections.load(ordering: .relaxed),
            totalConnections: totalConnections.load(ordering: .relaxed),
            bytesClientToBackend: bytesClientToBackend.load(ordering: .relaxed),
            bytesBackendToClient: bytesBackendToClient.load(ordering: .relaxed),
            connectFailures: connectFailures.load(ordering: .relaxed),
            connectRetries: connectRetries.load(ordering: .relaxed),
            udpSessions: udpSessions.load(ordering: .relaxed),
            udpSessionsTotal: udpSessionsTotal.load(ordering: .relaxed),
            udpDroppedDatagrams: udpDroppedDatagrams.load(ordering: .relaxed)
        )
    }
}
