import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A complete HTTP response as a client sees it on the wire.
struct RawHTTPResponse {
    var status: Int
    /// Header names lower-cased; repeated headers keep the last value.
    var headers: [String: String]
    var body: String
}

/// One blocking HTTP/1.1 request over a fresh TCP connection with `Connection: close`, read to
/// EOF. `KubeProxyTesting.HTTPProbe` returns only bodies; these tests must see status lines and
/// headers too.
enum RawHTTP {
    enum Failure: Error, Equatable {
        case refused
        case failed(String)
    }

    static func get(
        _ path: String, host: String = "127.0.0.1", port: Int, method: String = "GET"
    ) throws -> RawHTTPResponse {
        let fd = try connect(host: host, port: port)
        defer { close(fd) }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.failed("send: errno \(errno)") }
            sent += n
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw Failure.failed("recv: errno \(errno)") }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return try parse(String(decoding: bytes, as: UTF8.self))
    }

    private static func parse(_ text: String) throws -> RawHTTPResponse {
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure.failed("no header end in \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure.failed(lines[0]) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return RawHTTPResponse(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    private static func connect(host: String, port: Int) throws -> Int32 {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else { throw Failure.failed("bad address \(host)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.failed("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let error = errno
            close(fd)
            throw error == ECONNREFUSED ? Failure.refused : Failure.failed("connect: errno \(error)")
        }
        return fd
    }
}
