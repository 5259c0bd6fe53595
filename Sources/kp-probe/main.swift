// kp-probe: a tiny client for the network-namespace end-to-end tests.
//
// The tests run it inside a "pod" namespace with `ip netns exec`, so what it sees is exactly
// what a real client behind the proxy's iptables portals sees: connects to ClusterIPs,
// NodePorts and external IPs, answers from whichever backend the proxy chose.
//
//   kp-probe http HOST:PORT [--count N] [--close] [--path P]
//       one line per request with the body (GET P, default /); keep-alive unless --close (then
//       a new connection per request); exit 1 on the first failure, printing it.
//   kp-probe udp HOST:PORT MESSAGE [--count N] [--source-port P] [--timeout-ms T]
//       sends MESSAGE N times from one socket, waiting for each reply; one line per reply.
//   kp-probe load HOST:PORT --connections N --seconds S
//       N concurrent loops of new-connection requests for S seconds; prints one JSON line
//       {"ok": {"NAME": n, ...}, "failed": k, "errors": [first 5]} (NAME from "hello from NAME").
//   kp-probe hold HOST:PORT
//       one keep-alive connection: prints the first response, then one more per stdin line.
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A failure worth one line of output.
struct ProbeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `HOST:PORT` with an IPv4 literal (or `[v6]:PORT`).
struct Target {
    let host: String
    let port: Int

    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw ProbeError("\(text) is not HOST:PORT")
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.host = String(host)
        self.port = port
    }

    func socketAddress() throws -> SocketAddress { try SocketAddress(ipAddress: host, port: port) }
}

/// The command line: a mode, positional arguments and `--name value` / `--flag` options.
struct Arguments {
    var positional: [String] = []
    var options: [String: String] = [:]
    var flags: Set<String> = []

    init(_ args: ArraySlice<String>) throws {
        var it = args.makeIterator()
        while let arg = it.next() {
            if arg == "--close" {
                flags.insert(arg)
            } else if arg.hasPrefix("--") {
                guard let value = it.next() else { throw ProbeError("\(arg) needs a value") }
                options[arg] = value
            } else {
                positional.append(arg)
            }
        }
    }

    func int(_ name: String, default value: Int) throws -> Int {
        guard let text = options[name] else { return value }
        guard let number = Int(text), number >= 0 else { throw ProbeError("\(name) takes a number, not \(text)") }
        return number
    }
}

/// Reads HTTP/1.1 responses framed by Content-Length from a connection's inbound bytes.
struct ResponseReader {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var pending: [UInt8] = []

    /// The next response's body; a non-200 status is an error.
    mutating func body() async throws -> String {
        var headerEnd = Self.headerEnd(pending)
        while headerEnd == nil {
            try await fill()
            headerEnd = Self.headerEnd(pending)
        }
        guard let end = headerEnd else { throw ProbeError("unreachable") }
        let head = String(decoding: pending[..<end], as: UTF8.self).split(separator: "\r\n")
        let status = head.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let length = head.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].strippingSpaces())
        }.first
        guard let length else { throw ProbeError("response without Content-Length: \(head.first ?? "")") }
        while pending.count < end + 4 + length { try await fill() }
        let body = String(decoding: pending[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        pending.removeFirst(end + 4 + length)
        guard status == "200" else { throw ProbeError("HTTP status \(status)") }
        return body
    }

    /// Reads until the peer closes (so the server, not us, ends in TIME_WAIT).
    mutating func drain() async throws {
        while try await inbound.next() != nil {}
    }

    private mutating func fill() async throws {
        guard let buffer = try await inbound.next() else { throw ProbeError("connection closed before a full response") }
        pending.append(contentsOf: buffer.readableBytesView)
    }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}

enum Probe {
    static let requestTimeout = TimeAmount.seconds(5)

    static func request(_ target: Target, close: Bool, path: String = "/") -> ByteBuffer {
        ByteBuffer(
            string: "GET \(path) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\nUser-Agent: kp-probe\r\n"
                + (close ? "Connection: close\r\n" : "") + "\r\n")
    }

    static func connect(_ target: Target) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(3))
            .connect(host: target.host, port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Runs `body` with the connection closed after `requestTimeout` unless it finished first,
    /// so a stuck proxy shows up as an error instead of a hang.
    static func withDeadline<T>(_ channel: Channel, _ body: () async throws -> T) async throws -> T {
        let timer = channel.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        return try await body()
    }

    /// `count` requests on one keep-alive connection (or a new connection each with `close`).
    static func http(_ target: Target, count: Int, close: Bool, path: String = "/") async throws {
        if close {
            for _ in 0..<count { emit(try await fetchOnce(target, path: path).trimmingSuffix("\n")) }
            return
        }
        let connection = try await connect(target)
        try await connection.executeThenClose { inbound, outbound in
            var reader = ResponseReader(inbound: inbound.makeAsyncIterator())
            for _ in 0..<count {
                let body = try await withDeadline(connection.channel) {
                    try await outbound.write(request(target, close: false, path: path))
                    return try await reader.body()
                }
                emit(body.trimmingSuffix("\n"))
            }
        }
    }

    /// One request on a new connection with `Connection: close`; returns the body.
    static func fetchOnce(_ target: Target, path: String = "/") async throws -> String {
        let connection = try await connect(target)
        return try await connection.executeThenClose { inbound, outbound in
            try await withDeadline(connection.channel) {
                var reader = ResponseReader(inbound: inbound.makeAsyncIterator())
                try await outbound.write(request(target, close: true, path: path))
                let body = try await reader.body()
                try await reader.drain()
                return body
            }
        }
    }

    /// A keep-alive connection driven by stdin: one request now, one more per line read.
    static func hold(_ target: Target) async throws {
        let connection = try await connect(target)
        try await connection.executeThenClose { inbound, outbound in
            var reader = ResponseReader(inbound: inbound.makeAsyncIterator())
            repeat {
                let body = try await withDeadline(connection.channel) {
                    try await outbound.write(request(target, close: false))
                    return try await reader.body()
                }
                emit(body.trimmingSuffix("\n"))
            } while readLine() != nil
        }
    }

    /// Sends `message` `count` times from one UDP socket, printing each reply.
    static func udp(_ target: Target, message: String, count: Int, sourcePort: Int, timeoutMs: Int) async throws {
        let remote = try target.socketAddress()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "0.0.0.0", port: sourcePort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel)
                }
            }
        let raw = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            var replies = inbound.makeAsyncIterator()
            for _ in 0..<count {
                let timer = raw.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMs))) { raw.close(promise: nil) }
                try await outbound.write(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(string: message)))
                guard let reply = try await replies.next() else {
                    throw ProbeError("no UDP reply from \(target.host):\(target.port) within \(timeoutMs) ms")
                }
                timer.cancel()
                emit(String(buffer: reply.data).trimmingSuffix("\n"))
            }
        }
    }
}

/// Outcome counts of a load run.
struct LoadTally: Sendable {
    var ok: [String: Int] = [:]
    var failed = 0
    var errors: [String] = []

    mutating func merge(_ other: LoadTally) {
        ok.merge(other.ok, uniquingKeysWith: +)
        failed += other.failed
        errors += other.errors.prefix(max(0, 5 - errors.count))
    }

    var json: String {
        let okPart = ok.sorted { $0.key < $1.key }.map { "\(Self.quote($0.key)): \($0.value)" }.joined(separator: ", ")
        let errorPart = errors.prefix(5).map(Self.quote).joined(separator: ", ")
        return "{\"ok\": {\(okPart)}, \"failed\": \(failed), \"errors\": [\(errorPart)]}"
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension Probe {
    /// `connections` loops of new-connection requests until `seconds` have passed.
    static func load(_ target: Target, connections: Int, seconds: Double) async -> LoadTally {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        return await withTaskGroup(of: LoadTally.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var tally = LoadTally()
                    while ContinuousClock.now < deadline {
                        do {
                            let body = try await fetchOnce(target).trimmingSuffix("\n")
                            let name = body.hasPrefix("hello from ") ? String(body.dropFirst("hello from ".count)) : body
                            tally.ok[name, default: 0] += 1
                        } catch {
                            tally.failed += 1
                            if tally.errors.count < 5 { tally.errors.append("\(error)") }
                            try? await Task.sleep(for: .milliseconds(10))  // no busy loop on instant refusals
                        }
                    }
                    return tally
                }
            }
            var total = LoadTally()
            for await part in group { total.merge(part) }
            return total
        }
    }

    static func run(_ args: [String]) async throws {
        let parsed = try Arguments(args.dropFirst())
        guard let mode = parsed.positional.first, parsed.positional.count >= 2 else {
            throw ProbeError("usage: kp-probe http|udp|load|hold HOST:PORT [...] (see the comment at the top of main.swift)")
        }
        let target = try Target(parsed.positional[1])
        switch mode {
        case "http":
            try await http(
                target, count: parsed.int("--count", default: 1), close: parsed.flags.contains("--close"),
                path: parsed.options["--path"] ?? "/")
        case "udp":
            guard parsed.positional.count == 3 else { throw ProbeError("udp needs HOST:PORT MESSAGE") }
            try await udp(
                target, message: parsed.positional[2], count: parsed.int("--count", default: 1),
                sourcePort: parsed.int("--source-port", default: 0), timeoutMs: parsed.int("--timeout-ms", default: 1000))
        case "load":
            guard let seconds = parsed.options["--seconds"].flatMap(Double.init), seconds > 0 else {
                throw ProbeError("load needs --seconds S")
            }
            let tally = await load(target, connections: max(1, try parsed.int("--connections", default: 1)), seconds: seconds)
            emit(tally.json)
        case "hold":
            try await hold(target)
        default:
            throw ProbeError("unknown mode \(mode)")
        }
    }
}

/// Writes one line to stdout with write(2), unbuffered: the tests read replies through a pipe
/// while the probe is still running (`hold`), so nothing may wait in a stdio buffer.
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        offset += n
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

extension Substring {
    func strippingSpaces() -> Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " || s.last == "\r" { s.removeLast() }
        return s
    }
}

do {
    try await Probe.run(CommandLine.arguments)
} catch {
    emit("kp-probe: \(error)")
    exit(1)
}
exit(0)
