/// The nfnetlink accounting wire format (`linux/netfilter/nfnetlink_acct.h`), encoded and
/// decoded by hand: no libmnl or libnetfilter_acct on the node, and the two messages we need
/// are small.
///
/// A request is `nlmsghdr` (16 bytes, host byte order) + `nfgenmsg` (4 bytes) + attributes
/// (`nlattr`: 2-byte length, 2-byte type, value padded to 4 bytes). Counter values are
/// 64-bit big-endian (`nla_put_be64`); names are NUL-terminated. The kernel answers a GET with
/// one `NFNL_MSG_ACCT_NEW` message per object and, as we always set `NLM_F_ACK`, every request
/// with an `NLMSG_ERROR` whose error is 0 (done) or a negative errno. Pure: sockets are
/// `SystemNFAcct`'s business.
public enum NFAcctMessage {
    /// Which request.
    public enum Command: UInt8, Sendable {
        /// `NFNL_MSG_ACCT_NEW`: create an object (with `NLM_F_CREATE | NLM_F_EXCL`, so an existing
        /// one answers `EEXIST` and keeps its counts).
        case new = 0
        /// `NFNL_MSG_ACCT_GET`: read one object by name.
        case get = 1

        /// The name error messages use.
        var label: String { self == .new ? "NFNL_MSG_ACCT_NEW" : "NFNL_MSG_ACCT_GET" }
    }

    /// One message of an answer.
    public enum Reply: Hashable, Sendable {
        /// An object's counts (`NFNL_MSG_ACCT_NEW` from the kernel), for the request `sequence`.
        case counter(NFAcctCounter, sequence: UInt32)
        /// `NLMSG_ERROR`: 0 acknowledges the request `sequence`, otherwise the positive errno.
        case status(errno: Int32, sequence: UInt32)
        /// `NLMSG_DONE`: the end of a multi-part answer.
        case done(sequence: UInt32)
    }

    /// `NFACCT_NAME_MAX` (32) less the terminating NUL.
    public static let maxNameBytes = 31
    /// `NFNL_SUBSYS_ACCT`: the high byte of the message type.
    static let subsystem: UInt16 = 7
    static let headerLength = 16
    static let nfgenLength = 4
    static let typeError: UInt16 = 2  // NLMSG_ERROR
    static let typeDone: UInt16 = 3  // NLMSG_DONE
    static let flagRequest: UInt16 = 0x1  // NLM_F_REQUEST
    static let flagAck: UInt16 = 0x4  // NLM_F_ACK
    static let flagExclusive: UInt16 = 0x200  // NLM_F_EXCL
    static let flagCreate: UInt16 = 0x400  // NLM_F_CREATE
    static let attributeName: UInt16 = 1  // NFACCT_NAME
    static let attributePackets: UInt16 = 2  // NFACCT_PKTS
    static let attributeBytes: UInt16 = 3  // NFACCT_BYTES
    /// `NLA_TYPE_MASK`: attribute types without the nested / byte-order flag bits.
    static let attributeTypeMask: UInt16 = 0x3fff

    /// The message type of `command` in the accounting subsystem.
    static func messageType(_ command: Command) -> UInt16 { subsystem << 8 | UInt16(command.rawValue) }

    /// The request datagram for `command` on the object `name`.
    /// Throws `.invalidArgument` for a name the kernel would refuse (empty, too long, a NUL).
    public static func request(_ command: Command, name: String, sequence: UInt32) throws(HostError) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= maxNameBytes, !nameBytes.contains(0) else {
            throw HostError(
                .invalidArgument("an nfacct name has 1 to \(maxNameBytes) bytes and no NUL"), command: ["nfnetlink", command.label, name])
        }
        var flags = flagRequest | flagAck
        if command == .new { flags |= flagCreate | flagExclusive }
        var body: [UInt8] = [0, 0, 0, 0]  // nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id 0
        appendAttribute(attributeName, nameBytes + [0], to: &body)
        var message: [UInt8] = []
        message.reserveCapacity(headerLength + body.count)
        appendHost(UInt32(headerLength + body.count), to: &message)
        appendHost(messageType(command), to: &message)
        appendHost(flags, to: &message)
        appendHost(sequence, to: &message)
        appendHost(UInt32(0), to: &message)  // port id: the kernel fills in ours
        return message + body
    }

    /// The messages of one received datagram, in order. Message types other than the
    /// accounting answer, `NLMSG_ERROR` and `NLMSG_DONE` are skipped. Throws `.malformedReply`
    /// for lengths that run past the datagram, an error message too short for its code, or a
    /// counter without name or packet count.
    public static func decode(_ datagram: [UInt8]) throws(HostError) -> [Reply] {
        var replies: [Reply] = []
        var offset = 0
        while datagram.count - offset >= headerLength {
            let length = Int(readHost(UInt32.self, datagram, offset))
            guard length >= headerLength, length <= datagram.count - offset else {
                throw malformed("message length \(length) at offset \(offset) of a \(datagram.count)-byte datagram")
            }
            let type = readHost(UInt16.self, datagram, offset + 4)
            let sequence = readHost(UInt32.self, datagram, offset + 8)
            let payload = datagram[(offset + headerLength)..<(offset + length)]
            switch type {
            case typeError:
                guard payload.count >= 4 else { throw malformed("NLMSG_ERROR with a \(payload.count)-byte payload") }
                let code = Int32(bitPattern: readHost(UInt32.self, datagram, payload.startIndex))
                replies.append(.status(errno: code == Int32.min ? Int32.max : -code, sequence: sequence))
            case typeDone:
                replies.append(.done(sequence: sequence))
            case messageType(.new):
                replies.append(.counter(try counter(payload), sequence: sequence))
            default:
                break
            }
            offset += min(align(length), datagram.count - offset)
        }
        guard offset == datagram.count else { throw malformed("\(datagram.count - offset) trailing bytes") }
        return replies
    }

    /// An object's attributes after the `nfgenmsg`.
    static func counter(_ payload: ArraySlice<UInt8>) throws(HostError) -> NFAcctCounter {
        guard payload.count >= nfgenLength else { throw malformed("accounting message without nfgenmsg") }
        var name: String?
        var packets: UInt64?
        var bytes: UInt64 = 0
        var offset = payload.startIndex + nfgenLength
        while payload.endIndex - offset >= 4 {
            let length = Int(readHost(UInt16.self, payload, offset))
            let type = readHost(UInt16.self, payload, offset + 2) & attributeTypeMask
            guard length >= 4, length <= payload.endIndex - offset else {
                throw malformed("attribute \(type) of length \(length) runs past its message")
            }
            let value = payload[(offset + 4)..<(offset + length)]
            switch type {
            case attributeName:
                name = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            case attributePackets, attributeBytes:
                guard value.count == 8 else { throw malformed("counter attribute \(type) of \(value.count) bytes, not 8") }
                let number = value.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                if type == attributePackets { packets = number } else { bytes = number }
            default:
                break
            }
            offset += min(align(length), payload.endIndex - offset)
        }
        guard let name, let packets else { throw malformed("accounting message without name or packet count") }
        return NFAcctCounter(name: name, packets: packets, bytes: bytes)
    }

    private static func malformed(_ problem: String) -> HostError {
        HostError(.malformedReply(problem), command: ["nfnetlink", "NFNL_SUBSYS_ACCT"])
    }

    /// `NLMSG_ALIGN` / `NLA_ALIGN`: lengths round up to 4 bytes.
    static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    static func appendAttribute(_ type: UInt16, _ value: [UInt8], to buffer: inout [UInt8]) {
        appendHost(UInt16(4 + value.count), to: &buffer)
        appendHost(type, to: &buffer)
        buffer += value
        buffer += [UInt8](repeating: 0, count: align(value.count) - value.count)
    }

    /// Netlink headers are in the host's byte order.
    static func appendHost<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value) { buffer.append(contentsOf: $0) }
    }

    static func readHost<T: FixedWidthInteger, C: Collection<UInt8>>(_: T.Type, _ bytes: C, _ offset: C.Index) -> T
    where C.Index == Int {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { raw in
            for index in 0..<MemoryLayout<T>.size { raw[index] = bytes[offset + index] }
        }
        return value
    }
}
