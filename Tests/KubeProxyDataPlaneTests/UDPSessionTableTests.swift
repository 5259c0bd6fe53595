import NIOCore
import Testing

@testable import KubeProxyDataPlane

/// The UDP session state machine with explicit instants: no sockets, no waiting.
@Suite("UDPSessionTable")
struct UDPSessionTableTests {
    typealias Table = UDPSessionTable<String>

    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let alice = try! SocketAddress(ipAddress: "127.0.0.1", port: 1001)
    let bob = try! SocketAddress(ipAddress: "127.0.0.1", port: 1002)
    let carol = try! SocketAddress(ipAddress: "127.0.0.2", port: 1001)

    func table(limit: Int = 10, idle: TimeAmount = .milliseconds(250), pending: Int = 16) -> Table {
        var settings = UDPSessionSettings(idleTimeout: idle, sessionLimit: limit)
        settings.pendingLimit = pending
        return Table(settings: settings)
    }

    func datagram(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Opens a session for `client` with backend `backend` at `now`; returns its id.
    func open(
        _ table: inout Table,
        _ client: SocketAddress,
        _ backend: String,
        at now: NIODeadline
    ) throws -> Table.SessionID {
        guard case .openSession(let id) = table.clientDatagram(from: client, datagram("hi"), now: now) else {
            Issue.record("expected a new session")
            throw CancellationError()
        }
        guard case .send = table.sessionOpened(client: client, id: id, backend: backend, now: now) else {
            Issue.record("expected the session to open")
            throw CancellationError()
        }
        return id
    }

    @Test func firstDatagramOpensASessionAndLaterOnesAreHeldThenSentInOrder() {
        var t = table()
        guard case .openSession(let id) = t.clientDatagram(from: alice, datagram("1"), now: t0) else {
            Issue.record("expected a new session")
            return
        }
        guard case .held = t.clientDatagram(from: alice, datagram("2"), now: t0) else {
            Issue.record("expected the datagram to be held")
            return
        }
        guard case .send(let pending) = t.sessionOpened(client: alice, id: id, backend: "A", now: t0) else {
            Issue.record("expected the held datagrams")
            return
        }
        #expect(pending.map { String(buffer: $0) } == ["1", "2"])
        guard case .forward(let backend) = t.clientDatagram(from: alice, datagram("3"), now: t0) else {
            Issue.record("expected forwarding")
            return
        }
        #expect(backend == "A")
        #expect(t.count == 1)
    }

    @Test func sessionsAreKeyedByIPAndPort() throws {
        var t = table()
        _ = try open(&t, alice, "A", at: t0)
        _ = try open(&t, bob, "B", at: t0)
        _ = try open(&t, carol, "C", at: t0)
        #expect(t.count == 3)
        guard case .forward("B") = t.clientDatagram(from: bob, datagram("x"), now: t0) else {
            Issue.record("bob's session goes to B")
            return
        }
    }

    @Test func heldDatagramsAreBounded() {
        var t = table(pending: 2)
        _ = t.clientDatagram(from: alice, datagram("1"), now: t0)
        guard case .held = t.clientDatagram(from: alice, datagram("2"), now: t0),
            case .drop(.pendingFull) = t.clientDatagram(from: alice, datagram("3"), now: t0)
        else {
            Issue.record("the third datagram is dropped")
            return
        }
    }

    /// A session idle for the timeout ends; activity in either direction postpones it.
    @Test func idleSessionsExpireAndActivityInEitherDirectionKeepsThemAlive() throws {
        var t = table(idle: .milliseconds(200))
        let a = try open(&t, alice, "A", at: t0)
        _ = try open(&t, bob, "B", at: t0)
        #expect(t.expire(now: t0 + .milliseconds(199)).backends.isEmpty)
        let relayed = t.backendDatagram(client: alice, id: a, now: t0 + .milliseconds(150))
        #expect(relayed)
        _ = t.clientDatagram(from: bob, datagram("x"), now: t0 + .milliseconds(100))

        #expect(t.expire(now: t0 + .milliseconds(300)).backends == ["B"])
        #expect(t.count == 1)
        #expect(t.expire(now: t0 + .milliseconds(350)).backends == ["A"])
        #expect(t.count == 0)
        guard case .openSession = t.clientDatagram(from: alice, datagram("again"), now: t0 + .seconds(1)) else {
            Issue.record("an expired client starts a new session")
            return
        }
    }

    /// Late news about an ended session never touches the client's newer session.
    @Test func staleSessionIDsAreIgnored() throws {
        var t = table(idle: .milliseconds(100))
        let old = try open(&t, alice, "A", at: t0)
        _ = t.expire(now: t0 + .milliseconds(100))
        let new = try open(&t, alice, "B", at: t0 + .milliseconds(150))
        #expect(old != new)
        let staleRelayed = t.backendDatagram(client: alice, id: old, now: t0 + .milliseconds(160))
        #expect(!staleRelayed)
        t.sessionEnded(client: alice, id: old)
        #expect(t.count == 1)
        t.sessionEnded(client: alice, id: new)
        #expect(t.count == 0)
    }

    @Test func aSessionThatEndsWhileOpeningDiscardsItsSocket() {
        var t = table(idle: .milliseconds(100))
        guard case .openSession(let id) = t.clientDatagram(from: alice, datagram("1"), now: t0) else {
            Issue.record("expected a new session")
            return
        }
        let expired = t.expire(now: t0 + .milliseconds(100))
        #expect(expired.droppedDatagrams == 1)
        guard case .discard = t.sessionOpened(client: alice, id: id, backend: "A", now: t0 + .milliseconds(101)) else {
            Issue.record("the late socket must be closed")
            return
        }
    }

    @Test func failedOpenDropsHeldDatagramsAndTheNextDatagramRetries() {
        var t = table()
        guard case .openSession(let id) = t.clientDatagram(from: alice, datagram("1"), now: t0) else {
            Issue.record("expected a new session")
            return
        }
        _ = t.clientDatagram(from: alice, datagram("2"), now: t0)
        #expect(t.sessionFailed(client: alice, id: id) == 2)
        #expect(t.count == 0)
        guard case .openSession(let retry) = t.clientDatagram(from: alice, datagram("3"), now: t0) else {
            Issue.record("expected a new attempt")
            return
        }
        #expect(retry != id)
    }

    /// A full table drops new clients' datagrams, asks for one warning per 10 s, and serves
    /// existing sessions as before.
    @Test func fullTableDropsNewClientsWithOneWarningPerInterval() throws {
        var t = table(limit: 1)
        _ = try open(&t, alice, "A", at: t0)
        var warnings: [Bool] = []
        for offset in [0, 1, 9_999, 10_000, 10_001] {
            let now = t0 + .milliseconds(Int64(offset))
            guard case .drop(.tableFull(let warn)) = t.clientDatagram(from: bob, datagram("x"), now: now) else {
                Issue.record("expected a drop")
                return
            }
            warnings.append(warn)
        }
        #expect(warnings == [true, false, false, true, false])
        guard case .forward("A") = t.clientDatagram(from: alice, datagram("y"), now: t0) else {
            Issue.record("existing sessions keep working")
            return
        }
    }

    @Test func closeEndsEverythingAndRefusesNewDatagrams() throws {
        var t = table()
        _ = try open(&t, alice, "A", at: t0)
        _ = try open(&t, bob, "B", at: t0)
        _ = t.clientDatagram(from: carol, datagram("opening"), now: t0)
        let ended = t.close()
        #expect(Set(ended.backends) == ["A", "B"])
        #expect(ended.droppedDatagrams == 1)
        #expect(t.count == 0)
        guard case .drop(.closed) = t.clientDatagram(from: alice, datagram("late"), now: t0) else {
            Issue.record("a closed table drops everything")
            return
        }
    }

    @Test func sweepIntervalIsAQuarterOfTheIdleTimeout() {
        #expect(UDPSessionSettings(idleTimeout: .milliseconds(200), sessionLimit: 1).sweepInterval == .milliseconds(50))
        #expect(UDPSessionSettings(idleTimeout: .microseconds(10), sessionLimit: 1).sweepInterval == .milliseconds(1))
    }
}
