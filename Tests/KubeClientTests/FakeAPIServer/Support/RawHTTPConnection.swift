import Foundation
import KubeAPI

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client over a plain blocking socket, for testing the fake API server from
/// the outside exactly as bytes on the wire: Content-Length bodies, chunked watch bodies read
/// chunk by chunk, and the difference between a clean end (terminating chunk), an EOF in the
/// middle of a body and a reset.
///
/// Blocking calls run on a dedicated thread (``offPool``) so they never occupy the Swift
/// concurrency pool; the connection is used by one test at a time.
final class RawHTTPConnection: @unchecked Sendable {
    enum Failure: Error, Equatable {
        case refused
        case closed
        case reset
        case timedOut
        case malformed(String)
        case system(String)
    }

    struct Head: Sendable {
        var status: Int
        var headers: [String: String]
    }

    struct Response: Sendable {
        var head: Head
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var status: Int { head.status }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONDecoder().decode(type, from: Data(body))
        }
    }

    private var fd: Int32
    private var buffer: [UInt8] = []
    private var pendingLines: [String] = []
    private var partialLine: [UInt8] = []

    init(port: Int, timeout: Duration = .seconds(5)) throws(Failure) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        setTimeout(timeout)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let error = errno
            Glibc.close(fd)
            fd = -1
            throw error == ECONNREFUSED ? .refused : .system("connect: errno \(error)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sets the receive timeout for later reads.
    func setTimeout(_ timeout: Duration) {
        let components = timeout.components
        var value = timeval(tv_sec: Int(components.seconds), tv_usec: Int(components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends a request; `token` adds a bearer `Authorization` header.
    func send(
        _ method: String = "GET", _ target: String, token: String? = nil, body: [UInt8] = [], contentType: String? = nil
    ) throws(Failure) {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        if let contentType { request += "Content-Type: \(contentType)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { request += "Content-Length: \(body.count)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw .system("send: errno \(errno)") }
            sent += n
        }
    }

    /// Reads a response head.
    func readHead() throws(Failure) -> Head {
        let marker: [UInt8] = [13, 10, 13, 10]
        while true {
            if let end = find(marker) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                let lines = text.components(separatedBy: "\r\n")
                guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
                    let status = Int(statusLine.split(separator: " ")[1])
                else { throw .malformed(text) }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                return Head(status: status, headers: headers)
            }
            try readMore()
        }
    }

    /// Reads a whole response (Content-Length or chunked until the terminating chunk).
    func readResponse() throws(Failure) -> Response {
        let head = try readHead()
        if head.headers["transfer-encoding"]?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while let chunk = try nextChunk() { body += chunk }
            return Response(head: head, body: body)
        }
        let length = Int(head.headers["content-length"] ?? "0") ?? 0
        while buffer.count < length { try readMore() }
        defer { buffer.removeFirst(length) }
        return Response(head: head, body: Array(buffer.prefix(length)))
    }

    /// The next chunk of a chunked body; `nil` after the terminating chunk.
    func nextChunk() throws(Failure) -> [UInt8]? {
        let crlf: [UInt8] = [13, 10]
        while find(crlf) == nil { try readMore() }
        guard let lineEnd = find(crlf) else { throw .malformed("chunk size") }
        let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";")[0]
        guard let size = Int(sizeText, radix: 16) else { throw .malformed("chunk size \(sizeText)") }
        while buffer.count < lineEnd + 2 + size + 2 { try readMore() }
        let chunk = Array(buffer[(lineEnd + 2)..<(lineEnd + 2 + size)])
        buffer.removeFirst(lineEnd + 2 + size + 2)
        return size == 0 ? nil : chunk
    }

    /// The next newline-terminated line of a chunked body, across chunk boundaries; `nil` at
    /// the clean end of the body.
    func nextLine() throws(Failure) -> String? {
        while pendingLines.isEmpty {
            guard let chunk = try nextChunk() else {
                if !partialLine.isEmpty { throw .malformed("truncated line at end of body") }
                return nil
            }
            for byte in chunk {
                if byte == UInt8(ascii: "\n") {
                    pendingLines.append(String(decoding: partialLine, as: UTF8.self))
                    partialLine = []
                } else {
                    partialLine.append(byte)
                }
            }
        }
        return pendingLines.removeFirst()
    }

    /// The next watch event, decoded generically; `nil` at the clean end of the stream.
    func nextEvent() throws -> WatchEvent<JSONValue>? {
        guard let line = try nextLine() else { return nil }
        return try JSONDecoder().decode(WatchEvent<JSONValue>.self, from: Data(line.utf8))
    }

    private func find(_ marker: [UInt8]) -> Int? {
        guard buffer.count >= marker.count else { return nil }
        for index in 0...(buffer.count - marker.count) where buffer[index] == marker[0] {
            if Array(buffer[index..<(index + marker.count)]) == marker { return index }
        }
        return nil
    }

    private func readMore() throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw .closed }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut }
            if errno == ECONNRESET { throw .reset }
            throw .system("recv: errno \(errno)")
        }
        buffer += chunk[0..<n]
    }
}

extension RawHTTPConnection {
    /// One request on a fresh connection.
    static func fetch(
        port: Int, _ target: String, method: String = "GET", token: String? = nil, body: [UInt8] = [], contentType: String? = nil
    ) async throws -> Response {
        try await offPool {
            let connection = try RawHTTPConnection(port: port)
            defer { connection.close() }
            try connection.send(method, target, token: token, body: body, contentType: contentType)
            return try connection.readResponse()
        }
    }

    /// Opens a watch: sends the request and reads the head.
    static func watch(port: Int, _ target: String, token: String? = nil) async throws -> (RawHTTPConnection, Head) {
        try await offPool {
            let connection = try RawHTTPConnection(port: port)
            try connection.send("GET", target, token: token)
            return (connection, try connection.readHead())
        }
    }

    /// ``nextEvent()`` off the concurrency pool.
    func event() async throws -> WatchEvent<JSONValue>? {
        try await offPool { try self.nextEvent() }
    }

    /// Reads events until the stream ends; returns them and how it ended (`nil`: cleanly).
    func drain() async -> (events: [WatchEvent<JSONValue>], failure: Failure?) {
        await offPool {
            var events: [WatchEvent<JSONValue>] = []
            do {
                while let event = try self.nextEvent() { events.append(event) }
                return (events, nil)
            } catch let failure as Failure {
                return (events, failure)
            } catch {
                return (events, .malformed("\(error)"))
            }
        }
    }
}

/// Runs blocking `work` on its own thread, so blocking socket reads never hold one of the few
/// threads of the Swift concurrency pool.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Non-throwing variant of ``offPool(_:)``.
func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

extension JSONValue {
    /// `metadata.name` of an object.
    var name: String? { self["metadata"]?["name"]?.stringValue }
    /// `metadata.resourceVersion` of an object.
    var resourceVersion: String? { self["metadata"]?["resourceVersion"]?.stringValue }
}
