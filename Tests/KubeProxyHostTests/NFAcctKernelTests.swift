import Foundation
import KubeProxyHost
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `SystemNFAcct` against the real kernel, inside a namespace `kp-test-<random>` the test
/// creates and deletes (nfacct objects and iptables rules are per network namespace, so the
/// host's are never touched; the host's objects are only read, to show they are separate).
struct NFAcctKernelTests {
    static let missing = Prerequisites.missing(["ip", "iptables"])

    @Test(.enabled(if: missing.isEmpty, Prerequisites.skipMessage(missing)))
    func createsReadsAndCountsAnObjectThroughAnIPTablesRule() async throws {
        let name = "kp_test_\(UInt32.random(in: 0...UInt32.max))"
        try await withTestNamespace { netns in
            let client = NetworkNamespaceEntry.nfacct(netns)
            #expect {
                try client.counter(name)
            } throws: { error in
                (error as? HostError)?.isNotFound == true
            }
            try client.ensure(name)
            try client.ensure(name)  // exists: no error, counts kept
            #expect(try client.counter(name) == NFAcctCounter(name: name))
            // The object is the namespace's: the host's namespace has none of that name.
            #expect(throws: HostError.self) { try SystemNFAcct().counter(name) }

            let runner = CommandRunner(netns: netns)
            _ = try await runner.run("ip", ["link", "set", "lo", "up"]).checked()
            _ = try await runner.run(
                "iptables", ["-A", "OUTPUT", "-o", "lo", "-p", "udp", "--dport", "9", "-m", "nfacct", "--nfacct-name", name]
            ).checked()
            let payload = [UInt8](repeating: 0x6b, count: 10)
            try NetworkNamespaceEntry.run(netns) { () throws(HostError) in try Self.sendUDP(payload, toLoopbackPort: 9, times: 5) }
            let counted = try client.counter(name)
            #expect(counted.packets == 5)
            #expect(counted.bytes == 5 * UInt64(20 + 8 + payload.count))
            // A second object's rule-less count stays zero: counts are per object.
            try client.ensure(name + "_b")
            #expect(try client.counter(name + "_b").packets == 0)
        }
    }

    @Test func namesTooLongFailBeforeAnySocketIsOpened() {
        let client = SystemNFAcct(openSocket: { () throws(HostError) -> Int32 in
            throw HostError(.launchFailed("no socket expected"), command: [])
        })
        #expect {
            try client.ensure(String(repeating: "x", count: 40))
        } throws: { error in
            guard let error = error as? HostError, case .invalidArgument = error.kind else { return false }
            return true
        }
    }

    /// Sends `payload` `times` times to 127.0.0.1:`port` from one UDP socket.
    static func sendUDP(_ payload: [UInt8], toLoopbackPort port: UInt16, times: Int) throws(HostError) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostError(.systemCall(errno: errno), command: ["socket", "AF_INET"]) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        for _ in 0..<times {
            let sent = payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            // Unconnected: the port-unreachable answers are not reported to sends.
            guard sent == payload.count else {
                throw HostError(.systemCall(errno: errno), command: ["sendto", "127.0.0.1:\(port)"])
            }
        }
    }
}
