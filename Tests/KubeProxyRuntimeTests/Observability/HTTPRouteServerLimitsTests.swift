import Foundation
import KubeProxyCore
import NIOCore
import Testing

@testable import KubeProxyRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The connection cap and deadlines of a real observability server on 127.0.0.1.
@Suite(.timeLimit(.minutes(1)))
struct HTTPRouteServerLimitsTests {
    private func withServer(
        _ limits: HTTPServerLimits, _ body: (Int) async throws -> Void
    ) async throws {
        let server = HTTPRouteServer(
            name: "test", ip: IPAddress("127.0.0.1")!, port: 0, limits: limits, logger: silentLogger,
            route: { _ in HTTPRouteResponse(status: .ok, headers: [], body: Array("ok".utf8)) })
        let port = try await server.start()
        do {
            try await body(port)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    private static let request = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"

    @Test func theConnectionPastTheCapWaitsUntilOneCloses() async throws {
        try await withServer(HTTPServerLimits(maxConnections: 2)) { port in
            // Two kept-alive connections, each served once so the server certainly holds them.
            let first = try TestSocket(port: port)
            let second = try TestSocket(port: port)
            for socket in [first, second] {
                try socket.send(Self.request)
                #expect(try socket.readResponse(within: 5) == "ok")
            }
            // The third connects (the kernel's backlog takes it) but is not served...
            let third = try TestSocket(port: port)
            try third.send(Self.request)
            #expect(try third.readResponse(within: 0.5) == nil)
            // ...until one of the two closes; then it is.
            first.close()
            #expect(try third.readResponse(within: 5) == "ok")
            second.close()
            third.close()
        }
    }

    @Test func aSlowlorisClientIsClosedAtTheRequestDeadline() async throws {
        try await withServer(HTTPServerLimits(maxConnections: 4, requestTimeout: .seconds(1))) { port in
            let socket = try TestSocket(port: port)
            defer { socket.close() }
            let start = ContinuousClock.now
            var closed = false
            // One header byte every 100 ms: never a complete request, never a pause long enough
            // to look idle.
            for byte in "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: \(String(repeating: "a", count: 60))".utf8 {
                guard (try? socket.send(String(UnicodeScalar(byte)))) != nil, !socket.isClosed(within: 0.1) else {
                    closed = true
                    break
                }
            }
            let elapsed = ContinuousClock.now - start
            #expect(closed, "the dribbling client was never closed")
            #expect(elapsed >= .milliseconds(900), "closed before the deadline: \(elapsed)")
            #expect(elapsed < .seconds(5), "closed long after the deadline: \(elapsed)")
        }
    }

    @Test func aSilentConnectionIsClosedAtTheRequestDeadline() async throws {
        try await withServer(HTTPServerLimits(maxConnections: 4, requestTimeout: .milliseconds(500))) { port in
            let socket = try TestSocket(port: port)
            defer { socket.close() }
            #expect(socket.isClosed(within: 5))
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let limits = HTTPServerLimits(maxConnections: 4, idleTimeout: .milliseconds(700), requestTimeout: .seconds(5))
        try await withServer(limits) { port in
            let socket = try TestSocket(port: port)
            defer { socket.close() }
            // Requests closer together than the idle timeout keep the connection.
            for _ in 0..<3 {
                try socket.send(Self.request)
                #expect(try socket.readResponse(within: 5) == "ok")
                #expect(!socket.isClosed(within: 0.3))
            }
            let idleSince = ContinuousClock.now
            #expect(socket.isClosed(within: 5))
            #expect(ContinuousClock.now - idleSince >= .milliseconds(300))
        }
    }

    @Test func theSlotOfATimedOutConnectionIsFreed() async throws {
        let limits = HTTPServerLimits(maxConnections: 1, requestTimeout: .milliseconds(500))
        try await withServer(limits) { port in
            let squatter = try TestSocket(port: port)
            defer { squatter.close() }
            let client = try TestSocket(port: port)
            defer { client.close() }
            try client.send(Self.request)
            // Served once the squatter's deadline closes it, without the squatter doing anything.
            #expect(try client.readResponse(within: 5) == "ok")
            #expect(squatter.isClosed(within: 1))
        }
    }
}

/// A blocking loopback TCP client that can wait with a timeout for a response or for the
/// server closing the connection.
final class TestSocket {
    enum Failure: Error {
        case failed(String)
    }

    private var fd: Int32
    private var buffered: [UInt8] = []

    init(port: Int) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.failed("socket: errno \(errno)") }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let error = errno
            Glibc.close(fd)
            fd = -1  // deinit runs for a class whose init throws: no second close
            throw Failure.failed("connect: errno \(error)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.failed("send: errno \(errno)") }
            sent += n
        }
    }

    /// Waits up to `seconds` for readable data; false on timeout.
    private func waitReadable(until deadline: ContinuousClock.Instant) -> Bool {
        let remaining = deadline - ContinuousClock.now
        let millis = max(0, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, millis) > 0
    }

    /// Reads more bytes into the buffer; false on end of stream or error.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffered += chunk[..<n]
        return true
    }

    /// The body of the next response (with `Content-Length`), or nil if none completes within
    /// `seconds`.
    func readResponse(within seconds: Double) throws -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            let text = String(decoding: buffered, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                let headBytes = text[..<end.upperBound].utf8.count
                if buffered.count >= headBytes + length {
                    let body = String(decoding: buffered[headBytes..<headBytes + length], as: UTF8.self)
                    buffered.removeFirst(headBytes + length)
                    return body
                }
            }
            guard waitReadable(until: deadline) else { return nil }
            guard fill() else { throw Failure.failed("connection closed while reading a response") }
        }
    }

    /// Whether the server closes (or resets) the connection within `seconds`; any data read
    /// meanwhile is kept for `readResponse`.
    func isClosed(within seconds: Double) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while waitReadable(until: deadline) {
            if !fill() { return true }
        }
        return false
    }
}
