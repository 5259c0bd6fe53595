import KubeProxyHost
import Testing

/// The nfnetlink accounting codec against byte sequences written out by hand from
/// `linux/netlink.h` and `linux/netfilter/nfnetlink_acct.h` (little-endian host, as every
/// platform we build for).
struct NFAcctMessageTests {
    @Test func getRequestIsHeaderNfgenmsgAndPaddedNameAttribute() throws {
        let bytes = try NFAcctMessage.request(.get, name: "abcde", sequence: 42)
        #expect(
            bytes == [
                32, 0, 0, 0,  // nlmsg_len: 16 + 4 + 12
                0x01, 0x07,  // nlmsg_type: NFNL_SUBSYS_ACCT << 8 | NFNL_MSG_ACCT_GET
                0x05, 0x00,  // NLM_F_REQUEST | NLM_F_ACK
                42, 0, 0, 0,  // nlmsg_seq
                0, 0, 0, 0,  // nlmsg_pid
                0, 0, 0, 0,  // nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id 0
                10, 0, 1, 0,  // nla_len 4 + 6, NFACCT_NAME
                0x61, 0x62, 0x63, 0x64, 0x65, 0, 0, 0,  // "abcde", NUL, 2 bytes padding
            ])
    }

    @Test func newRequestCreatesExclusively() throws {
        let bytes = try NFAcctMessage.request(.new, name: "ct_state_invalid_dropped_pkts", sequence: 0x0102_0304)
        // 29 name bytes + NUL = 30, attribute 34, padded 36: 16 + 4 + 36.
        #expect(bytes.count == 56)
        #expect(Array(bytes[0..<16]) == [56, 0, 0, 0, 0x00, 0x07, 0x05, 0x06, 4, 3, 2, 1, 0, 0, 0, 0])
        #expect(Array(bytes[20..<24]) == [34, 0, 1, 0])
        #expect(String(decoding: bytes[24..<53], as: UTF8.self) == "ct_state_invalid_dropped_pkts")
        #expect(Array(bytes[53..<56]) == [0, 0, 0])
    }

    @Test(arguments: ["", String(repeating: "n", count: 32), "a\u{0}b"])
    func namesTheKernelWouldRefuseAreRejected(name: String) {
        #expect(throws: HostError.self) { try NFAcctMessage.request(.new, name: name, sequence: 1) }
    }

    @Test func longestNameFits() throws {
        let bytes = try NFAcctMessage.request(.get, name: String(repeating: "n", count: 31), sequence: 1)
        #expect(bytes.count == 16 + 4 + 36)
    }

    /// What the kernel sends for a GET: the object (with NFACCT_USE, which we skip) and the
    /// acknowledgement in separate datagrams, here joined to test a multi-message datagram.
    @Test func counterAndAcknowledgementDecode() throws {
        let object: [UInt8] =
            [60, 0, 0, 0, 0x00, 0x07, 0, 0, 7, 0, 0, 0, 0x99, 0, 0, 0]  // header: ACCT_NEW, seq 7
            + [0, 0, 0, 0]  // nfgenmsg
            + [7, 0, 1, 0, 0x61, 0x62, 0, 0]  // NFACCT_NAME "ab", NUL, padding
            + [12, 0, 2, 0x40, 0, 0, 0, 0, 0, 0, 0x01, 0x02]  // NFACCT_PKTS (NLA_F_NET_BYTEORDER set) 258
            + [12, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0]  // NFACCT_BYTES 2^32
            + [8, 0, 4, 0, 0, 0, 0, 1]  // NFACCT_USE 1
        let ack: [UInt8] =
            [36, 0, 0, 0, 2, 0, 0x01, 0x01, 7, 0, 0, 0, 0x99, 0, 0, 0]  // NLMSG_ERROR, seq 7
            + [0, 0, 0, 0]  // error 0
            + [28, 0, 0, 0, 0x01, 0x07, 0x05, 0, 7, 0, 0, 0, 0, 0, 0, 0]  // the request's header
        let replies = try NFAcctMessage.decode(object + ack)
        #expect(
            replies == [
                .counter(NFAcctCounter(name: "ab", packets: 258, bytes: 1 << 32), sequence: 7), .status(errno: 0, sequence: 7),
            ])
    }

    @Test func negativeErrorCodesBecomeErrnos() throws {
        let enoent: [UInt8] = [20, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0] + [0xfe, 0xff, 0xff, 0xff]  // -2
        #expect(try NFAcctMessage.decode(enoent) == [.status(errno: 2, sequence: 9)])
        let done: [UInt8] = [20, 0, 0, 0, 3, 0, 2, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try NFAcctMessage.decode(done) == [.done(sequence: 9)])
        let noop: [UInt8] = [16, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]
        #expect(try NFAcctMessage.decode(noop).isEmpty)
    }

    @Test(
        arguments: [
            // nlmsg_len larger than the datagram (a truncated read).
            [60, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // nlmsg_len smaller than a header.
            [8, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            // An error message without its code.
            [18, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // Trailing bytes that are not a message.
            [20, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2],
            // A counter whose attribute runs past the message.
            [28, 0, 0, 0, 0, 7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 1, 0, 0x61, 0, 0, 0],
            // A packet count of 4 bytes.
            [36, 0, 0, 0, 0, 7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1, 0, 0x61, 0, 0, 0, 8, 0, 2, 0, 0, 0, 0, 1],
            // A counter without a packet count.
            [28, 0, 0, 0, 0, 7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1, 0, 0x61, 0, 0, 0],
        ] as [[UInt8]])
    func malformedAnswersAreErrors(datagram: [UInt8]) {
        #expect {
            _ = try NFAcctMessage.decode(datagram)
        } throws: { error in
            guard let error = error as? HostError, case .malformedReply = error.kind else { return false }
            return true
        }
    }

    @Test func errorsNameTheRequestAndTheErrno() {
        let error = HostError(.netlink(errno: 1), command: ["nfnetlink", "NFNL_MSG_ACCT_NEW", "x"])
        #expect(error.description == "nfnetlink NFNL_MSG_ACCT_NEW x: kernel answered errno 1 (Operation not permitted)")
        #expect(HostError(.netlink(errno: 2), command: []).isNotFound)
        #expect(!error.isNotFound)
    }
}
