import NIOCore

/// The client sessions of one UDP service port as a state machine with no I/O: events go in
/// (a datagram from a client or a backend, a backend socket opened or failed, a sweep), actions
/// come out, and `UDPListenerHandler` carries them out (docs/userspace-behaviour.md#udp-sessions).
///
/// A session is keyed by the client's address (ip:port) and moves `opening` → `open`:
/// - the first datagram of an unknown client asks the caller to open a session (choose an
///   endpoint, connect a UDP socket); datagrams that arrive meanwhile are held, at most
///   `pendingLimit` of them, and handed back once the socket is open;
/// - the endpoint of a session never changes; a session ends when no datagram crossed
///   in either direction for `idleTimeout` (swept by `expire`), when its backend socket fails, or
///   when the table closes;
/// - the table holds at most `sessionLimit` sessions; a new client's datagram is dropped while
///   it is full, and at most one warning per `warningInterval` is asked for (upstream had no
///   bound and ran out of file descriptors, kubernetes/kubernetes#12144).
///
/// Every session gets a fresh `SessionID`, so late news about an ended session (its socket
/// finishing to open or closing) can never touch a newer session of the same client.
/// Time is passed in as `NIODeadline` so tests drive expiry without waiting.
struct UDPSessionTable<Backend> {
    /// Identifies one session for its whole life.
    typealias SessionID = UInt64

    /// What to do with a client's datagram.
    enum ClientAction {
        /// The session is open: send the datagram to this backend socket.
        case forward(Backend)
        /// A new session: choose an endpoint and open its socket, then report `sessionOpened` or
        /// `sessionFailed`. The datagram is held until then.
        case openSession(SessionID)
        /// The session's socket is still opening; the datagram is held.
        case held
        /// Drop the datagram.
        case drop(DropReason)
    }

    /// Why a client's datagram was dropped.
    enum DropReason: Equatable {
        /// The table is full; `warn` asks for the once-per-interval warning.
        case tableFull(warn: Bool)
        /// The session is still opening and already holds `pendingLimit` datagrams.
        case pendingFull
        /// The table is closed (the listener is going away).
        case closed
    }

    /// What to do once a session's backend socket is open.
    enum OpenedAction {
        /// Send these held datagrams, in order, and start relaying replies.
        case send(pending: [ByteBuffer])
        /// The session ended meanwhile: close the socket.
        case discard
    }

    /// What sweeping found.
    struct Expired {
        /// Backend sockets of ended sessions, to close.
        var backends: [Backend] = []
        /// Held datagrams of opening sessions that ended, now lost.
        var droppedDatagrams = 0
    }

    private enum Phase {
        case opening(pending: [ByteBuffer])
        case open(Backend)
    }

    private struct Session {
        let id: SessionID
        var phase: Phase
        var lastActivity: NIODeadline
    }

    private enum State {
        case serving
        case closed
    }

    /// The limits and timeouts this table enforces.
    let settings: UDPSessionSettings
    private var sessions: [SocketAddress: Session] = [:]
    private var state = State.serving
    private var nextID: SessionID = 0
    private var lastWarning: NIODeadline?

    /// Creates an empty, serving table.
    init(settings: UDPSessionSettings) {
        self.settings = settings
    }

    /// The number of sessions, opening ones included.
    var count: Int { sessions.count }

    /// A datagram from `client` arrived at `now`.
    mutating func clientDatagram(from client: SocketAddress, _ data: ByteBuffer, now: NIODeadline) -> ClientAction {
        guard case .serving = state else { return .drop(.closed) }
        guard var session = sessions[client] else {
            return open(client, data, now: now)
        }
        session.lastActivity = now
        switch session.phase {
        case .open(let backend):
            sessions[client] = session
            return .forward(backend)
        case .opening(var pending):
            guard pending.count < settings.pendingLimit else {
                sessions[client] = session
                return .drop(.pendingFull)
            }
            pending.append(data)
            session.phase = .opening(pending: pending)
            sessions[client] = session
            return .held
        }
    }

    private mutating func open(_ client: SocketAddress, _ data: ByteBuffer, now: NIODeadline) -> ClientAction {
        guard sessions.count < settings.sessionLimit else {
            let warn = lastWarning.map { now - $0 >= settings.warningInterval } ?? true
            if warn { lastWarning = now }
            return .drop(.tableFull(warn: warn))
        }
        nextID += 1
        sessions[client] = Session(id: nextID, phase: .opening(pending: [data]), lastActivity: now)
        return .openSession(nextID)
    }

    /// The socket of session `id` of `client` is open and connected to its endpoint.
    mutating func sessionOpened(
        client: SocketAddress,
        id: SessionID,
        backend: Backend,
        now: NIODeadline
    ) -> OpenedAction {
        guard var session = sessions[client], session.id == id, case .opening(let pending) = session.phase else {
            return .discard
        }
        session.phase = .open(backend)
        session.lastActivity = now
        sessions[client] = session
        return .send(pending: pending)
    }

    /// Session `id` of `client` got no socket (no endpoint, or the socket failed to open); it is
    /// removed, so the client's next datagram tries again. Returns how many held datagrams are lost.
    mutating func sessionFailed(client: SocketAddress, id: SessionID) -> Int {
        guard let session = sessions[client], session.id == id, case .opening(let pending) = session.phase else {
            return 0
        }
        sessions[client] = nil
        return pending.count
    }

    /// A reply for `client` arrived on the socket of session `id` at `now`; `true` when it should
    /// be relayed (the session is still the client's), `false` when it belongs to an ended one.
    mutating func backendDatagram(client: SocketAddress, id: SessionID, now: NIODeadline) -> Bool {
        guard case .serving = state, sessions[client]?.id == id else { return false }
        sessions[client]?.lastActivity = now
        return true
    }

    /// The socket of session `id` closed (an error such as ICMP port unreachable, or our own
    /// close); forgets the session if it is still the client's.
    mutating func sessionEnded(client: SocketAddress, id: SessionID) {
        guard sessions[client]?.id == id else { return }
        sessions[client] = nil
    }

    /// Removes every session idle for at least `idleTimeout` at `now`.
    mutating func expire(now: NIODeadline) -> Expired {
        var expired = Expired()
        let timeout = settings.idleTimeout
        guard sessions.values.contains(where: { now - $0.lastActivity >= timeout }) else { return expired }
        sessions = sessions.filter { _, session in
            guard now - session.lastActivity >= timeout else { return true }
            Self.record(session.phase, into: &expired)
            return false
        }
        return expired
    }

    /// Ends every session and refuses new ones (the listener is closing).
    mutating func close() -> Expired {
        state = .closed
        var ended = Expired()
        for session in sessions.values {
            Self.record(session.phase, into: &ended)
        }
        sessions = [:]
        return ended
    }

    /// Accounts for one ended session.
    private static func record(_ phase: Phase, into ended: inout Expired) {
        switch phase {
        case .open(let backend): ended.backends.append(backend)
        case .opening(let pending): ended.droppedDatagrams += pending.count
        }
    }
}
