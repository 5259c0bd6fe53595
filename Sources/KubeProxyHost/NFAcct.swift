/// One nfacct accounting object as the kernel reports it: what `-m nfacct --nfacct-name NAME`
/// rules have counted since the object was created.
public struct NFAcctCounter: Hashable, Sendable, CustomStringConvertible {
    /// The object's name (at most `NFAcctMessage.maxNameBytes` bytes).
    public var name: String
    /// Packets counted.
    public var packets: UInt64
    /// Bytes counted.
    public var bytes: UInt64

    /// Creates a counter value.
    public init(name: String, packets: UInt64 = 0, bytes: UInt64 = 0) {
        self.name = name
        self.packets = packets
        self.bytes = bytes
    }

    public var description: String { "\(name): \(packets) packets, \(bytes) bytes" }
}

/// The kernel's extended accounting objects (nfnetlink_acct), which iptables rules count
/// packets into with `-m nfacct`.
///
/// Objects live in the network namespace and outlive the process that created them, so
/// `ensure` is idempotent and a restarted proxy keeps counting where the previous one stopped.
/// Calls are synchronous and short (one netlink request and its answer): `/metrics` reads the
/// counters while a scraper waits. Implementations throw `HostError`; a missing object is
/// `.netlink(errno: ENOENT)` (see `HostError.isNotFound`).
public protocol NFAcctClient: Sendable {
    /// Creates the object `name` unless it exists already (an existing one keeps its counts).
    func ensure(_ name: String) throws(HostError)
    /// The object's current counts.
    func counter(_ name: String) throws(HostError) -> NFAcctCounter
}

extension HostError {
    /// Whether the kernel answered "no such object" (an nfacct object that does not exist).
    public var isNotFound: Bool { kind == .netlink(errno: 2) }  // ENOENT
}
