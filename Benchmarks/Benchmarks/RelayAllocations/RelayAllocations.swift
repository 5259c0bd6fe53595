// Allocations per relayed request of the userspace data plane, on loopback.
//
// The proxy runs in this process on one event loop; the client (this benchmark's thread) and the
// backends (one thread each) use blocking sockets and allocate nothing per request, so the
// malloc counts are the proxy's own. bench/run.sh (BENCH_ONLY=alloc) runs this target and puts
// the counts in the results file.
import Benchmark
import Foundation
import KubeProxyCore
import KubeProxyDataPlane
import Logging
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Request and reply sizes: a small HTTP-like exchange (the bench's 1 KiB keep-alive case).
let requestSize = 64
let replySize = 1024

/// Errors of the harness itself, with the failing call.
struct HarnessError: Error, CustomStringConvertible {
    let call: String
    var description: String { "\(call) failed: errno \(errno)" }
}

/// A listening socket on 127.0.0.1 with a kernel-chosen port.
func listeningSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError(call: "socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0, listen(fd, 128) == 0 else { throw HarnessError(call: "bind/listen") }
    var actual = sockaddr_in()
    var actualLength = length
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
    }
    return (fd, Int(UInt16(bigEndian: actual.sin_port)))
}

/// A connected blocking socket to 127.0.0.1:`port`.
func connectTo(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError(call: "socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        close(fd)
        throw HarnessError(call: "connect")
    }
    return fd
}

/// Reads exactly `count` bytes into `buffer`; `false` at EOF or error.
func readExactly(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
    var done = 0
    while done < count {
        let n = recv(fd, buffer + done, count - done, 0)
        if n <= 0 { return false }
        done += n
    }
    return true
}

/// Writes all `count` bytes of `buffer`; `false` on error.
func writeAll(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Bool {
    var done = 0
    while done < count {
        let n = send(fd, buffer + done, count - done, Int32(MSG_NOSIGNAL))
        if n <= 0 { return false }
        done += n
    }
    return true
}

/// A backend on a thread of its own: one connection at a time, a `replySize` reply per
/// `requestSize` request, until the peer closes.
func startBackend() throws -> Int {
    let (fd, port) = try listeningSocket()
    Thread.detachNewThread {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(requestSize, replySize), alignment: 8)
        memset(buffer, 0x78, replySize)
        while true {
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { continue }
            while readExactly(connection, buffer, requestSize), writeAll(connection, buffer, replySize) {}
            close(connection)
        }
    }
    return port
}

/// The proxy under test: a keep-alive client connection through one service port, and a
/// second service port (with a backend of its own) for new connections.
struct Harness: Sendable {
    let keepAliveClient: Int32
    let newConnectionPort: Int
}

/// One harness per TCP relay engine.
let harnesses = Mutex<[TCPRelayEngine: Harness]>([:])

/// Starts the backends and a one-loop proxy relaying TCP with `relay` in front of them (once per
/// engine for the whole process).
func sharedHarness(_ relay: TCPRelayEngine) async throws -> Harness {
    if let existing = harnesses.withLock({ $0[relay] }) { return existing }
    var logger = Logger(label: "relay-allocations")
    logger.logLevel = .warning
    let proxy = UserspaceProxy(
        group: MultiThreadedEventLoopGroup(numberOfThreads: 1), bindAddress: IPAddress("127.0.0.1")!,
        portRange: nil, tcpRelay: relay, logger: logger)
    var desired: [ServicePortName: ProxiedPort] = [:]
    let names = ["keepalive", "newconnection"].map {
        ServicePortName(namespace: "bench", name: $0, port: "p", protocol: .tcp)
    }
    for name in names {
        let endpoint = EndpointAddress(ip: IPAddress("127.0.0.1")!, port: try startBackend())
        desired[name] = ProxiedPort(name: name, endpoints: [endpoint])
    }
    _ = await proxy.apply(desired)
    let status = await proxy.status()
    guard let keepAlivePort = status[names[0]]?.port, let newConnectionPort = status[names[1]]?.port else {
        throw HarnessError(call: "proxy listen")
    }
    let made = Harness(keepAliveClient: try connectTo(port: keepAlivePort), newConnectionPort: newConnectionPort)
    harnesses.withLock { $0[relay] = made }
    return made
}

/// One request and its reply over `fd`.
func exchange(_ fd: Int32, _ buffer: UnsafeMutableRawPointer) -> Bool {
    writeAll(fd, buffer, requestSize) && readExactly(fd, buffer, replySize)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .throughput, .wallClock],
        warmupIterations: 200,
        maxDuration: .seconds(3),
        maxIterations: 20_000
    )

    for relay in TCPRelayEngine.allCases {
        Benchmark(
            "relay keep-alive request (64 B request, 1 KiB reply; \(relay.rawValue) relay)",
            closure: { benchmark in
                let current = harnesses.withLock { $0[relay] }
                guard let client = current?.keepAliveClient else { return }
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: replySize, alignment: 8)
                defer { buffer.deallocate() }
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    guard exchange(client, buffer) else { fatalError("keep-alive exchange failed") }
                }
                benchmark.stopMeasurement()
            },
            setup: { _ = try await sharedHarness(relay) }
        )

        Benchmark(
            "relay new connection per request (connect, request, reply, close; \(relay.rawValue) relay)",
            configuration: .init(
                metrics: [.mallocCountTotal, .throughput, .wallClock], warmupIterations: 100,
                maxDuration: .seconds(3), maxIterations: 5_000),
            closure: { benchmark in
                let current = harnesses.withLock { $0[relay] }
                guard let port = current?.newConnectionPort else { return }
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: replySize, alignment: 8)
                defer { buffer.deallocate() }
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    guard let fd = try? connectTo(port: port), exchange(fd, buffer) else {
                        fatalError("new-connection exchange failed")
                    }
                    close(fd)
                }
                benchmark.stopMeasurement()
            },
            setup: { _ = try await sharedHarness(relay) }
        )
    }
}
