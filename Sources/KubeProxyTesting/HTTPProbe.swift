import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking HTTP/1.1 client over a plain socket, for tests that must see exactly what a real
/// client sees (connection refused, EOF before a response, a reused keep-alive connection).
public final class HTTPProbe {
    /// Why a probe failed.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case refused
        case closedBeforeResponse
        case timedOut
        case malformed(String)
        case system(String)

        public var description: String {
            switch self {
            case .refused: return "connection refused"
            case .closedBeforeResponse: return "connection closed before a response"
            case .timedOut: return "timed out"
            case .malformed(let s): return "malformed response: \(s)"
            case .system(let s): return s
            }
        }
    }

    private var fd: Int32
    private var buffer: [UInt8] = []
    /// The status code of the last response read by `get`.
    public private(set) var lastStatus = 0
    /// The header lines of the last response (`Name: value`), lower-cased names.
    public private(set) var lastHeaders: [String: String] = [:]

    /// Connects to `host:port` (IPv4 or IPv6 literal), with a receive timeout.
    public init(host: String, port: Int, timeout: Duration = .seconds(5)) throws(Failure) {
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: Int32
        if host.contains(":") {
            family = AF_INET6
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1 else { throw .system("bad address \(host)") }
            withUnsafeBytes(of: sin6) { raw in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            family = AF_INET
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else { throw .system("bad address \(host)") }
            withUnsafeBytes(of: sin) { raw in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket: \(errno)") }
        let seconds = timeout.components.seconds
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        if rc != 0 {
            let err = errno
            Glibc.close(fd)
            fd = -1
            throw err == ECONNREFUSED ? .refused : .system("connect: errno \(err)")
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Closes the connection.
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sends one GET and returns the response body as text.
    public func get(_ path: String = "/", closeAfter: Bool = false) throws(Failure) -> String {
        let request = "GET \(path) HTTP/1.1\r\nHost: test\r\n\(closeAfter ? "Connection: close\r\n" : "")\r\n"
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw errno == EPIPE || errno == ECONNRESET ? .closedBeforeResponse : .system("send: errno \(errno)") }
            sent += n
        }
        let head = try readUntilHeaderEnd()
        guard head.hasPrefix("HTTP/1.1 ") || head.hasPrefix("HTTP/1.0 ") else { throw .malformed(head) }
        var contentLength = 0
        let lines = head.split(separator: "\r\n")
        lastStatus = lines.first.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        lastHeaders = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            lastHeaders[parts[0].lowercased()] = value
            if parts[0].lowercased() == "content-length" { contentLength = Int(value) ?? 0 }
        }
        try fill(contentLength)
        let body = String(decoding: buffer.prefix(contentLength), as: UTF8.self)
        buffer.removeFirst(contentLength)
        return body
    }

    /// Reads until EOF or timeout; true when the peer closed the connection cleanly or reset it.
    public func waitForClose() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    private func readUntilHeaderEnd() throws(Failure) -> String {
        let marker: [UInt8] = [13, 10, 13, 10]
        while true {
            if let range = firstRange(of: marker) {
                let head = String(decoding: buffer[..<range], as: UTF8.self)
                buffer.removeFirst(range + 4)
                return head
            }
            try readMore()
        }
    }

    private func firstRange(of marker: [UInt8]) -> Int? {
        guard buffer.count >= marker.count else { return nil }
        for i in 0...(buffer.count - marker.count) where buffer[i] == marker[0] {
            if Array(buffer[i..<(i + marker.count)]) == marker { return i }
        }
        return nil
    }

    private func fill(_ count: Int) throws(Failure) {
        while buffer.count < count { try readMore() }
    }

    private func readMore() throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw .closedBeforeResponse }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut }
            if errno == ECONNRESET { throw .closedBeforeResponse }
            throw .system("recv: errno \(errno)")
        }
        buffer.append(contentsOf: chunk[0..<n])
    }

    /// Convenience: one request on a fresh connection.
    public static func fetch(host: String, port: Int, path: String = "/") throws(Failure) -> String {
        let probe = try HTTPProbe(host: host, port: port)
        defer { probe.close() }
        return try probe.get(path, closeAfter: true)
    }
}
