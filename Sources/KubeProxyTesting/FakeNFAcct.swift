import KubeProxyHost
import Synchronization

/// An `NFAcctClient` that keeps its objects in memory, with the kernel's answers: `ensure`
/// creates a missing object and leaves an existing one (and its counts) alone, `counter` of a
/// missing object is `ENOENT`. `count(_:packets:bytes:)` plays a matching rule; `refuse(errno:)`
/// makes every request fail as on a node without permission or kernel support.
public final class FakeNFAcct: NFAcctClient, Sendable {
    struct State {
        var objects: [String: NFAcctCounter] = [:]
        var refusal: Int32?
        var ensures = 0
        var reads = 0
    }

    private let state = Mutex(State())

    /// Creates a fake holding `objects` (name → packets), e.g. objects a previous run left.
    public init(objects: [String: UInt64] = [:]) {
        state.withLock { state in
            for (name, packets) in objects { state.objects[name] = NFAcctCounter(name: name, packets: packets) }
        }
    }

    public func ensure(_ name: String) throws(HostError) {
        let refusal = state.withLock { state -> Int32? in
            state.ensures += 1
            if let refusal = state.refusal { return refusal }
            if state.objects[name] == nil { state.objects[name] = NFAcctCounter(name: name) }
            return nil
        }
        if let refusal { throw HostError(.netlink(errno: refusal), command: ["nfnetlink", "NFNL_MSG_ACCT_NEW", name]) }
    }

    public func counter(_ name: String) throws(HostError) -> NFAcctCounter {
        let result = state.withLock { state -> Result<NFAcctCounter, HostError> in
            state.reads += 1
            let what = ["nfnetlink", "NFNL_MSG_ACCT_GET", name]
            if let refusal = state.refusal { return .failure(HostError(.netlink(errno: refusal), command: what)) }
            guard let counter = state.objects[name] else { return .failure(HostError(.netlink(errno: 2), command: what)) }
            return .success(counter)
        }
        return try result.get()
    }

    /// A rule matched: adds to the object's counts. Returns false when the object does not
    /// exist (the kernel would have refused the rule).
    @discardableResult
    public func count(_ name: String, packets: UInt64, bytes: UInt64 = 0) -> Bool {
        state.withLock { state in
            guard state.objects[name] != nil else { return false }
            state.objects[name]?.packets += packets
            state.objects[name]?.bytes += bytes
            return true
        }
    }

    /// Makes every later request fail with `errno` (1: EPERM, 95: EOPNOTSUPP); nil answers again.
    public func refuse(errno: Int32?) {
        state.withLock { $0.refusal = errno }
    }

    /// Deletes an object (as `nfacct del` would, for tests of a vanished object).
    public func delete(_ name: String) {
        _ = state.withLock { $0.objects.removeValue(forKey: name) }
    }

    /// The names of the objects that exist.
    public var names: Set<String> { state.withLock { Set($0.objects.keys) } }

    /// How many `ensure` and `counter` calls were made.
    public var calls: (ensures: Int, reads: Int) { state.withLock { ($0.ensures, $0.reads) } }
}
