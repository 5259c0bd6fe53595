import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The real `NFAcctClient`: one `NETLINK_NETFILTER` socket per request, in the network
/// namespace the socket is opened in (the process's own unless `openSocket` says otherwise).
///
/// A socket per request keeps the client stateless and safe from any thread; requests are
/// rare (two at start, two per scrape). Every receive has a deadline (`timeout`), so a scrape
/// can never hang on the kernel. Errors: `.netlink(errno:)` for the kernel's refusals (`EPERM`
/// without `CAP_NET_ADMIN`, `EOPNOTSUPP` without nfnetlink_acct, `ENOENT` for a missing
/// object), `.systemCall` for socket failures and timeouts, `.malformedReply` for answers that
/// do not parse or do not fit the receive buffer.
public struct SystemNFAcct: NFAcctClient {
    /// Opens an unbound `NETLINK_NETFILTER` socket and returns its descriptor (tests open it
    /// inside a network namespace of their own).
    public typealias SocketOpener = @Sendable () throws(HostError) -> Int32

    /// How the socket is opened.
    public var openSocket: SocketOpener
    /// The longest wait for one answer datagram.
    public var timeout: Duration

    /// Creates a client; `openSocket` defaults to a socket in the process's own namespace.
    public init(timeout: Duration = .seconds(1), openSocket: @escaping SocketOpener = SystemNFAcct.netfilterSocket) {
        self.timeout = timeout
        self.openSocket = openSocket
    }

    /// A `NETLINK_NETFILTER` socket in the calling thread's network namespace.
    public static func netfilterSocket() throws(HostError) -> Int32 {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkNetfilter)
        guard fd >= 0 else { throw HostError(.systemCall(errno: errno), command: ["socket", "AF_NETLINK", "NETLINK_NETFILTER"]) }
        return fd
    }

    public func ensure(_ name: String) throws(HostError) {
        do {
            _ = try exchange(.new, name: name)
        } catch let error where error.kind == .netlink(errno: EEXIST) || error.kind == .netlink(errno: EBUSY) {
            // EEXIST answers NLM_F_EXCL; kernels answer EBUSY for an existing object without it.
            return
        }
    }

    public func counter(_ name: String) throws(HostError) -> NFAcctCounter {
        let counters = try exchange(.get, name: name)
        guard let counter = counters.first(where: { $0.name == name }) else {
            throw HostError(
                .malformedReply("acknowledged without the object"), command: ["nfnetlink", NFAcctMessage.Command.get.label, name])
        }
        return counter
    }

    /// Sends one request and reads datagrams until its acknowledgement; returns the counters
    /// that came with it.
    func exchange(_ command: NFAcctMessage.Command, name: String) throws(HostError) -> [NFAcctCounter] {
        let what = ["nfnetlink", command.label, name]
        let sequence = Self.nextSequence()
        let request = try NFAcctMessage.request(command, name: name, sequence: sequence)
        let fd = try openSocket()
        defer { close(fd) }
        try setReceiveTimeout(fd, what)
        let sent = request.withUnsafeBytes { bytes in
            Self.kernelAddress.withUnsafeBytes { address in
                sendto(
                    fd, bytes.baseAddress, bytes.count, 0, address.baseAddress?.assumingMemoryBound(to: sockaddr.self),
                    socklen_t(address.count))
            }
        }
        guard sent == request.count else { throw HostError(.systemCall(errno: sent < 0 ? errno : EMSGSIZE), command: what + ["sendto"]) }
        var counters: [NFAcctCounter] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        // An answer is one counter and one acknowledgement; the bound only stops a confused
        // kernel from keeping us here.
        for _ in 0..<64 {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_TRUNC)) }
            if received < 0 {
                if errno == EINTR { continue }
                throw HostError(.systemCall(errno: errno), command: what + ["recv"])
            }
            guard received <= buffer.count else {
                throw HostError(.malformedReply("a \(received)-byte datagram was truncated to \(buffer.count) bytes"), command: what)
            }
            let replies: [NFAcctMessage.Reply]
            do throws(HostError) {
                replies = try NFAcctMessage.decode(Array(buffer[0..<received]))
            } catch {
                throw HostError(error.kind, command: what)
            }
            for reply in replies {
                switch reply {
                case .counter(let counter, let seq) where seq == sequence: counters.append(counter)
                case .status(let code, let seq) where seq == sequence:
                    if code != 0 { throw HostError(.netlink(errno: code), command: what) }
                    return counters
                case .done(let seq) where seq == sequence: return counters
                default: continue
                }
            }
        }
        throw HostError(.malformedReply("no acknowledgement in 64 datagrams"), command: what)
    }

    private func setReceiveTimeout(_ fd: Int32, _ what: [String]) throws(HostError) {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw HostError(.systemCall(errno: errno), command: what + ["setsockopt", "SO_RCVTIMEO"])
        }
    }

    /// `NETLINK_NETFILTER` (linux/netlink.h; not exported by the Glibc module).
    static let netlinkNetfilter: Int32 = 12

    /// `struct sockaddr_nl` of the kernel (port id 0, no groups): family `AF_NETLINK`, padding,
    /// `nl_pid`, `nl_groups` (the Glibc module does not export the struct).
    static let kernelAddress: [UInt8] = {
        var bytes: [UInt8] = []
        NFAcctMessage.appendHost(UInt16(AF_NETLINK), to: &bytes)
        bytes += [UInt8](repeating: 0, count: 10)
        return bytes
    }()

    /// Sequence numbers tell our answer from a stale one; unique per process is enough.
    private static let sequenceCounter = Atomic<UInt32>(UInt32.random(in: 1...UInt32.max / 2))

    private static func nextSequence() -> UInt32 {
        sequenceCounter.add(1, ordering: .relaxed).newValue
    }
}
