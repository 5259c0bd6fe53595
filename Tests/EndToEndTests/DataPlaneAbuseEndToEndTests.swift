import Foundation
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The real `kube-proxy` binary under abuse on loopback (`--userspace-portals=false`): TCP
/// keepalive on both relay sockets, UDP session memory, and a low descriptor limit.
@Suite(.serialized)
struct DataPlaneAbuseEndToEndTests {
    /// A Service `default/abuse` with a TCP port `http` and a UDP port `dns`, and its endpoints.
    static func manifests(tcpPort: Int, udpPort: Int) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: abuse, namespace: default}
        spec:
          clusterIP: 10.96.0.77
          ports:
          - {name: http, port: 80, protocol: TCP, targetPort: 8080}
          - {name: dns, port: 53, protocol: UDP, targetPort: 5353}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: abuse-a
          namespace: default
          labels: {kubernetes.io/service-name: abuse}
        addressType: IPv4
        endpoints:
        - addresses: ["127.0.0.1"]
          conditions: {ready: true}
        ports:
        - {name: http, port: \(tcpPort), protocol: TCP}
        - {name: dns, port: \(udpPort), protocol: UDP}
        """
    }

    /// A failure of the test's own setup (not of the proxy).
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// `example-backend` answering HTTP and echoing UDP on kernel-chosen loopback ports.
    struct Backend {
        let process: ChildProcess
        let tcpPort: Int
        let udpPort: Int
    }

    static func startBackend() async throws -> Backend {
        let process = try ChildProcess(
            executable: BuiltProducts.path("example-backend"),
            arguments: ["--listen", "127.0.0.1:0", "--udp-listen", "127.0.0.1:0", "--name", "a"])
        func port(_ marker: String) async -> Int? {
            guard let line = await process.waitForLine(where: { $0.contains(marker) }),
                let text = line.split(separator: ":").last
            else { return nil }
            return Int(text)
        }
        guard let udp = await port("udp listening on"), let tcp = await port("a listening on") else {
            await process.terminate()
            throw SetupError(description: "backend did not start: \(process.output.suffix(5))")
        }
        return Backend(process: process, tcpPort: tcp, udpPort: udp)
    }

    /// Writes the manifests for `backend` into a fresh directory.
    static func manifestDirectory(_ backend: Backend) throws -> URL {
        let dir = try ProxyHarness.temporaryDirectory("kp-abuse")
        try ProxyHarness.write(
            manifests(tcpPort: backend.tcpPort, udpPort: backend.udpPort),
            to: dir.appendingPathComponent("abuse.yaml"))
        return dir
    }

    /// The proxy's arguments for `dir`: loopback only, no portals, kernel-chosen ports.
    static func arguments(_ dir: URL, extra: [String] = []) -> [String] {
        [
            "--manifests", dir.path, "--bind-address", "127.0.0.1", "--iptables-min-sync-period", "100ms",
            "--userspace-portals=false", "--healthz-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0",
        ] + extra
    }

    // MARK: /proc and ss

    /// `VmRSS` of `pid` in KiB.
    static func residentKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// User + system CPU time of `pid` in clock ticks.
    static func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        let afterName = try #require(stat.range(of: ")", options: .backwards)).upperBound
        let fields = stat[afterName...].split(separator: " ")
        return try #require(Int(fields[11])) + (try #require(Int(fields[12])))
    }

    /// The output of `ss ARGS`.
    static func ss(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ss"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: Sockets of the test

    /// A blocking loopback TCP connection to `port`; the caller closes the descriptor.
    static func connectTCP(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0, "socket: errno \(errno)")
        var address = loopback(port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw SetupError(description: "connect to \(port): errno \(errno)")
        }
        return fd
    }

    /// A UDP socket on an ephemeral loopback port with a receive timeout of 2 s.
    static func udpSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0, "socket: errno \(errno)")
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Sends one datagram from each of `sockets` to `port`, then counts the replies.
    static func udpRound(_ sockets: [Int32], port: Int) -> Int {
        var address = loopback(port)
        let payload = Array("ping".utf8)
        for fd in sockets {
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        var replies = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        for fd in sockets where recv(fd, &buffer, buffer.count, 0) > 0 {
            replies += 1
        }
        return replies
    }

    // MARK: Tests

    /// Item 5: both proxy sockets of a relayed connection carry a keepalive timer.
    @Test func proxiedSocketsHaveKeepaliveTimers() async throws {
        let backend = try await Self.startBackend()
        defer { backend.process.send(SIGKILL) }
        let dir = try Self.manifestDirectory(backend)
        defer { try? FileManager.default.removeItem(at: dir) }
        let proxy = try ProxyHarness.startProxy(Self.arguments(dir))
        defer { proxy.send(SIGKILL) }
        let port = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/abuse:http"),
            "no listener; output: \(proxy.output.suffix(10))")

        let held = try HTTPProbe(host: "127.0.0.1", port: port)
        defer { held.close() }
        #expect(try held.get().contains("hello from a"))
        // The proxy's accepted socket has the listener's port as its source port; its dialled
        // socket is the only one with the backend's port as destination.
        let clientSide = try Self.ss(["-tnoH", "state", "established", "( sport = :\(port) )"])
        let backendSide = try Self.ss(["-tnoH", "state", "established", "( dport = :\(backend.tcpPort) )"])
        #expect(clientSide.contains("timer:(keepalive"), "client side: \(clientSide)")
        #expect(backendSide.contains("timer:(keepalive"), "backend side: \(backendSide)")
    }

    /// Item 6: 4,000 UDP sessions from distinct source ports cost well under 30 KiB each, and
    /// most of that memory goes back to the system once they expire.
    @Test func udpSessionMemoryFollowsTraffic() async throws {
        let backend = try await Self.startBackend()
        defer { backend.process.send(SIGKILL) }
        let dir = try Self.manifestDirectory(backend)
        defer { try? FileManager.default.removeItem(at: dir) }
        let proxy = try ProxyHarness.startProxy(Self.arguments(dir, extra: ["--udp-timeout", "10s"]))
        defer { proxy.send(SIGKILL) }
        let port = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/abuse:dns"),
            "no listener; output: \(proxy.output.suffix(10))")

        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        // Warm-up: event loops, receive regions and pools exist before the baseline.
        for _ in 0..<50 { sockets.append(try Self.udpSocket()) }
        #expect(Self.udpRound(sockets, port: port) == 50)
        try await Task.sleep(for: .milliseconds(300))
        let before = try Self.residentKiB(proxy.pid)

        let sessions = 4000
        var replies = 0
        for _ in 0..<(sessions / 200) {
            var batch: [Int32] = []
            for _ in 0..<200 { batch.append(try Self.udpSocket()) }
            sockets += batch
            replies += Self.udpRound(batch, port: port)
        }
        try await Task.sleep(for: .milliseconds(300))
        let after = try Self.residentKiB(proxy.pid)
        let perSession = Double(after - before) / Double(sessions)
        print("UDP sessions: \(replies) answered, RSS \(before) KiB → \(after) KiB, \(perSession) KiB per session")
        #expect(replies >= sessions * 95 / 100, "sessions answered: \(replies)")
        #expect(perSession < 30, "RSS grew \(perSession) KiB per session")

        // Every session ends 10–12.5 s after its datagram; the heap is trimmed after the sweep.
        for fd in sockets { close(fd) }
        sockets = []
        try await Task.sleep(for: .seconds(14))
        let expired = try Self.residentKiB(proxy.pid)
        print("UDP sessions expired: RSS \(expired) KiB")
        #expect(expired - before < (after - before) / 2, "RSS after expiry: \(expired) KiB")
    }

    /// Item 4: with `ulimit -n 512`, 600 idle clients of a data-plane port neither make the proxy
    /// spin nor take the descriptors its health server needs; once they leave, service traffic
    /// flows again.
    @Test func lowDescriptorLimitNeitherSpinsNorStarves() async throws {
        let backend = try await Self.startBackend()
        defer { backend.process.send(SIGKILL) }
        let dir = try Self.manifestDirectory(backend)
        defer { try? FileManager.default.removeItem(at: dir) }
        let proxy = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: ["prlimit", "--nofile=512:512", "--", BuiltProducts.path("kube-proxy")] + Self.arguments(dir))
        defer { proxy.send(SIGKILL) }
        let port = try #require(
            await ProxyHarness.waitForListener(proxy, servicePort: "default/abuse:http"),
            "no listener; output: \(proxy.output.suffix(10))")
        let healthLine = try #require(await proxy.waitForLine(where: { $0.contains("serving healthz") }))
        let healthPort = try #require(ProxyHarness.listenPort(in: healthLine.replacingOccurrences(of: "address=", with: "listen=")))
        #expect(try HTTPProbe.fetch(host: "127.0.0.1", port: port).contains("hello from a"))

        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for _ in 0..<600 { held.append(try Self.connectTCP(port)) }
        try await Task.sleep(for: .milliseconds(500))
        let ticksPerSecond = Int(sysconf(Int32(_SC_CLK_TCK)))
        let start = try Self.cpuTicks(proxy.pid)
        try await Task.sleep(for: .seconds(3))
        let used = try Self.cpuTicks(proxy.pid) - start
        print("proxy CPU over 3 s with 600 idle clients at ulimit -n 512: \(used) ticks (\(ticksPerSecond)/s)")
        #expect(used < ticksPerSecond, "the proxy used \(used) ticks in 3 s: it spins")
        // The reserve: the health server still gets a descriptor.
        #expect((try? HTTPProbe.fetch(host: "127.0.0.1", port: healthPort, path: "/healthz")) != nil)

        held.forEach { close($0) }
        held = []
        var answered = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !answered && ContinuousClock.now < deadline {
            answered = (try? HTTPProbe.fetch(host: "127.0.0.1", port: port))?.contains("hello from a") ?? false
            if !answered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered, "no answer within 5 s after the idle clients left; output: \(proxy.output.suffix(5))")
    }
}
