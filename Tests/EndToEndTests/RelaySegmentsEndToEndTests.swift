import Foundation
import KubeProxyHost
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The segments the real binary's relay puts on the wire, captured with a packet socket on the
/// loopback of a network namespace the test made (nothing else runs there, so every segment is
/// the test's own).
///
/// Why it matters (issue #9, docs/dataplane-profile.md "Tenth pass"): on loopback every segment
/// is sent and received inside the sender's system call, so each one the relay saves is kernel
/// work it does not do on every short-lived connection.
/// - When a backend's last bytes and its end arrive together, the relay sends the bytes with
///   `MSG_MORE` and closes at once, so the FIN to the client rides on the data segment.
/// - The dialled socket holds back the handshake's last ACK so that it rides on the client's
///   first bytes; when the client has sent nothing (a server-first protocol) the relay sends
///   that ACK at once instead of leaving the backend to wait for the 200 ms delayed-ACK timer.
@Suite(.serialized)
struct RelaySegmentsEndToEndTests {
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// One TCP segment seen on the namespace's loopback.
    struct Segment: CustomStringConvertible {
        let sourcePort: Int
        let destinationPort: Int
        let payload: Int
        let syn: Bool
        let fin: Bool
        let reset: Bool
        var description: String {
            "\(sourcePort)>\(destinationPort) [\(syn ? "S" : "")\(fin ? "F" : "")\(reset ? "R" : "")] \(payload)"
        }
    }

    static let response = [UInt8](repeating: UInt8(ascii: "r"), count: 1_200)

    #if canImport(Glibc)
        /// A namespace with a backend listener, a packet socket and the proxy, all torn down by
        /// `close()` (the lab kills the proxy by PID and deletes the namespace).
        final class Setup {
            let lab = NetworkLab()
            let ns: String
            let backend: Int32
            let sniffer: Int32
            var backendPort = 0
            let dir: URL
            var proxy: ChildProcess!
            var proxyPort = 0

            init() async throws {
                ns = try lab.addNamespace("seg")
                // Made inside the namespace; a socket stays in the namespace it was made in.
                let (backend, sniffer) = try NetworkNamespaceEntry.run(ns) { () -> (Int32, Int32) in
                    (RelaySegmentsEndToEndTests.listeningSocket(), RelaySegmentsEndToEndTests.packetSocket())
                }
                self.backend = backend
                self.sniffer = sniffer
                dir = try ProxyHarness.temporaryDirectory("kp-segments")
                guard backend >= 0, sniffer >= 0 else {
                    close()
                    throw SetupError(
                        description: "cannot open the backend or the packet socket: \(String(cString: strerror(errno)))")
                }
                backendPort = try RelaySegmentsEndToEndTests.localPort(backend)
                try ProxyHarness.write(
                    ExhaustionEndToEndTests.manifest(0, backendPort: backendPort), to: dir.appendingPathComponent("seg.yaml"))
                proxy = try lab.start(
                    ns, BuiltProducts.path("kube-proxy"),
                    [
                        "--manifests", dir.path, "--bind-address", "127.0.0.1", "--userspace-portals=false",
                        "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
                    ])
                guard let port = await ProxyHarness.waitForListener(proxy, servicePort: "default/\(ExhaustionEndToEndTests.name(0)):http")
                else {
                    let output = proxy.output.suffix(10)
                    close()
                    throw SetupError(description: "no listener; output: \(output)")
                }
                proxyPort = port
            }

            /// A client socket in the namespace, connected to the proxy.
            func connectClient() throws -> Int32 {
                let client = try NetworkNamespaceEntry.run(ns) { () -> Int32 in RelaySegmentsEndToEndTests.clientSocket() }
                guard client >= 0 else { throw RelaySegmentsEndToEndTests.failure("socket") }
                do {
                    try RelaySegmentsEndToEndTests.connect(client, port: proxyPort)
                } catch {
                    Glibc.close(client)
                    throw error
                }
                return client
            }

            func close() {
                lab.destroy()
                if backend >= 0 { Glibc.close(backend) }
                if sniffer >= 0 { Glibc.close(sniffer) }
                try? FileManager.default.removeItem(at: dir)
            }
        }

        @Test func theFirstBytesCarryTheHandshakeAckAndTheLastBytesCarryTheFIN() async throws {
            if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
            let setup = try await Setup()
            defer { setup.close() }

            let rounds = 5
            var clientPorts: Set<Int> = []
            for round in 0..<rounds {
                // The client's bytes are there before the proxy accepts: it is stopped while the
                // kernel completes the client's handshake and queues the bytes.
                setup.proxy.send(SIGSTOP)
                let client: Int32
                do {
                    client = try setup.connectClient()
                    try Self.sendAll(client, Array("ping \(round)\n".utf8))
                } catch {
                    setup.proxy.send(SIGCONT)
                    throw error
                }
                setup.proxy.send(SIGCONT)
                defer { close(client) }
                clientPorts.insert(try Self.localPort(client))
                try Self.serveOne(setup.backend)
                let received = try Self.readToEnd(client)
                #expect(received == Self.response, "round \(round): \(received.count) bytes instead of the response")
            }

            let segments = Self.drain(setup.sniffer)
            // The test's own premise: the backend put its bytes and its FIN in one segment.
            let fromBackend = segments.filter { $0.sourcePort == setup.backendPort }
            #expect(fromBackend.filter(\.fin).count == rounds)
            #expect(fromBackend.allSatisfy { !$0.fin || $0.payload > 0 }, "the test backend sent a bare FIN")

            // The proxy's dialled connections: after its SYN, its first segment is the request.
            let toBackend = Dictionary(grouping: segments.filter { $0.destinationPort == setup.backendPort }, by: \.sourcePort)
            #expect(toBackend.count == rounds, "dialled connections: \(toBackend.keys.sorted())")
            for (port, dialled) in toBackend {
                #expect(dialled.first?.syn == true, "dial port \(port): \(dialled)")
                #expect(
                    (dialled.dropFirst().first?.payload ?? 0) > 0,
                    "dial port \(port): a bare ACK completed the handshake before the request: \(dialled)")
            }

            for port in clientPorts.sorted() {
                let toClient = segments.filter { $0.sourcePort == setup.proxyPort && $0.destinationPort == port }
                let fins = toClient.filter(\.fin)
                #expect(fins.count == 1, "client port \(port): \(fins.count) FIN segments")
                #expect(
                    fins.allSatisfy { $0.payload > 0 },
                    "client port \(port): the FIN came in a segment of its own after the data: \(toClient)")
                #expect(toClient.allSatisfy { !$0.reset }, "client port \(port): reset")
                #expect(toClient.reduce(0) { $0 + $1.payload } == Self.response.count)
            }
        }

        /// A backend that speaks first (SMTP, MySQL, SSH) only learns of the connection when the
        /// handshake's last ACK arrives. Held back, the kernel would send it after 200 ms; every
        /// greeting taking that long means the relay did not send it itself. One quick round
        /// out of three is enough to show it does, so a loaded machine cannot fail the test.
        @Test func aBackendThatSpeaksFirstIsNotKeptWaitingForTheHandshake() async throws {
            if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
            let setup = try await Setup()
            defer { setup.close() }

            let greeting = Array("220 ready\r\n".utf8)
            var elapsed: [Duration] = []
            for _ in 0..<3 {
                let started = ContinuousClock.now
                let client = try setup.connectClient()
                defer { close(client) }
                let fd = accept(setup.backend, nil, nil)
                guard fd >= 0 else { throw Self.failure("accept the proxy's connection") }
                try Self.sendAll(fd, greeting)
                close(fd)
                let received = try Self.readToEnd(client)
                elapsed.append(ContinuousClock.now - started)
                #expect(received == greeting)
            }
            #expect(
                elapsed.contains { $0 < .milliseconds(100) },
                "every greeting took the delayed-ACK timer's 200 ms or more: \(elapsed)")
        }

        // MARK: - Sockets (blocking, with a 5 s timeout each, so a failure cannot hang the run)

        static func withTimeout(_ fd: Int32) {
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        /// A TCP listener on a kernel-chosen loopback port, or -1.
        static func listeningSocket() -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var address = DataPlaneAbuseEndToEndTests.loopback(0)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(fd, 16) == 0 else {
                close(fd)
                return -1
            }
            withTimeout(fd)
            return fd
        }

        /// `ETH_P_ALL` and `PACKET_OUTGOING` (`linux/if_ether.h`, `linux/if_packet.h`; Glibc's
        /// module does not export them, nor `struct sockaddr_ll`, which is built byte by byte).
        static let everyProtocol: UInt16 = 0x0003
        static let packetOutgoing: UInt8 = 4
        /// `sizeof(struct sockaddr_ll)`, and where its `sll_pkttype` sits.
        static let linkAddressSize = 20
        static let packetTypeOffset = 10

        /// A packet socket on the namespace's `lo` that sees every frame, or -1.
        static func packetSocket() -> Int32 {
            let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(everyProtocol.bigEndian))
            guard fd >= 0 else { return -1 }
            // sll_family, sll_protocol (network order), sll_ifindex; the rest zero.
            var address = [UInt8](repeating: 0, count: linkAddressSize)
            withUnsafeBytes(of: UInt16(AF_PACKET)) { address.replaceSubrange(0..<2, with: $0) }
            withUnsafeBytes(of: everyProtocol.bigEndian) { address.replaceSubrange(2..<4, with: $0) }
            withUnsafeBytes(of: Int32(if_nametoindex("lo"))) { address.replaceSubrange(4..<8, with: $0) }
            let bound = address.withUnsafeBytes {
                bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(linkAddressSize))
            }
            guard bound == 0 else {
                close(fd)
                return -1
            }
            var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }

        static func clientSocket() -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0 { withTimeout(fd) }
            return fd
        }

        static func failure(_ call: String) -> SetupError {
            SetupError(description: "\(call): \(String(cString: strerror(errno)))")
        }

        static func localPort(_ fd: Int32) throws -> Int {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let result = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard result == 0 else { throw failure("getsockname") }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        static func connect(_ fd: Int32, port: Int) throws {
            var address = DataPlaneAbuseEndToEndTests.loopback(port)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0 else { throw failure("connect to the proxy") }
        }

        static func sendAll(_ fd: Int32, _ bytes: [UInt8], flags: Int32 = 0) throws {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, flags | Int32(MSG_NOSIGNAL)) }
                guard sent > 0 else { throw failure("send") }
                offset += sent
            }
        }

        /// Reads until the end of stream (or a 5 s timeout, which throws).
        static func readToEnd(_ fd: Int32) throws -> [UInt8] {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 { return received }
                guard count > 0 else { throw failure("recv") }
                received += chunk[0..<count]
            }
        }

        /// Accepts one connection from the proxy, reads its request, and answers with the
        /// response and the end in one segment: the bytes are held back with `MSG_MORE`, and the
        /// `shutdown` that follows sets FIN on them.
        static func serveOne(_ listener: Int32) throws {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { throw failure("accept the proxy's connection") }
            defer { close(fd) }
            withTimeout(fd)
            var request = [UInt8](repeating: 0, count: 256)
            let count = request.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw failure("read the request") }
            try sendAll(fd, response, flags: Int32(MSG_MORE))
            guard shutdown(fd, Int32(SHUT_WR)) == 0 else { throw failure("shutdown") }
            // Until the proxy closes its side, so the backend's close is an orderly one.
            _ = try? readToEnd(fd)
        }

        /// Every TCP/IPv4 segment captured so far (each once: the copy looped back in is skipped).
        static func drain(_ fd: Int32) -> [Segment] {
            var segments: [Segment] = []
            var frame = [UInt8](repeating: 0, count: 70_000)
            while true {
                var from = [UInt8](repeating: 0, count: linkAddressSize)
                var length = socklen_t(linkAddressSize)
                let count = frame.withUnsafeMutableBytes { buffer in
                    from.withUnsafeMutableBytes {
                        recvfrom(
                            fd, buffer.baseAddress, buffer.count, 0,
                            $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
                    }
                }
                guard count > 0 else { return segments }
                guard from[packetTypeOffset] == packetOutgoing, let segment = parse(frame[0..<count]) else { continue }
                segments.append(segment)
            }
        }

        /// An Ethernet-framed IPv4 TCP segment (loopback frames carry an all-zero Ethernet header).
        static func parse(_ frame: ArraySlice<UInt8>) -> Segment? {
            let bytes = Array(frame)
            guard bytes.count >= 34, bytes[12] == 0x08, bytes[13] == 0x00 else { return nil }
            let ip = 14
            guard bytes[ip] >> 4 == 4, bytes[ip + 9] == 6 else { return nil }
            let ipHeader = Int(bytes[ip] & 0x0f) * 4
            let total = Int(bytes[ip + 2]) << 8 | Int(bytes[ip + 3])
            let tcp = ip + ipHeader
            guard bytes.count >= tcp + 20 else { return nil }
            let tcpHeader = Int(bytes[tcp + 12] >> 4) * 4
            let flags = bytes[tcp + 13]
            return Segment(
                sourcePort: Int(bytes[tcp]) << 8 | Int(bytes[tcp + 1]),
                destinationPort: Int(bytes[tcp + 2]) << 8 | Int(bytes[tcp + 3]),
                payload: total - ipHeader - tcpHeader, syn: flags & 0x02 != 0, fin: flags & 0x01 != 0,
                reset: flags & 0x04 != 0)
        }
    #endif
}
