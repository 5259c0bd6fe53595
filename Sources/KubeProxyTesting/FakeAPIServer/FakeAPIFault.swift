import Foundation

/// A fault an operator (or a test) injects into a running fake API server, written as a short
/// spec such as `stall=30s` or `fail=5:503`. The same spec is accepted by `fake-apiserver
/// --fault` and by its control endpoint (`POST /fake/faults`), so an outage can be rehearsed
/// from the command line while a proxy follows the server.
public enum FakeAPIFault: Sendable, Hashable, CustomStringConvertible {
    /// Requests arriving during the duration are answered only when it is over (`stall=30s`).
    case stall(Duration)
    /// The next `count` API requests fail with `code` (429, 5xx, 410, …) and, if given, a
    /// `Retry-After` (`fail=COUNT[:CODE[:RETRY_AFTER_SECONDS]]`).
    case fail(count: Int, code: Int, retryAfter: Int?)
    /// Every open watch gets `ERROR 410 Expired` and ends, and the history is compacted so
    /// resuming from an old resourceVersion is 410 too: clients must relist (`gone`).
    case gone
    /// Every connection is closed abruptly (TCP RST), as when the server crashes (`reset`).
    case reset
    /// Every open watch ends cleanly; clients re-watch without relisting (`end-watches`).
    case endWatches
    /// Cancels a stall and pending failures (`clear`).
    case clear

    /// The spec grammar, one line per fault, for `--help` and the control endpoint's errors.
    public static let grammar = """
              stall=DURATION            answer nothing that arrives for DURATION (500ms, 30s, 2m)
              fail=N[:CODE[:RETRY]]     fail the next N API requests with CODE (default 500; 429, 503, 410, …),
                                        RETRY adds Retry-After seconds
              gone                      send ERROR 410 Expired to every watch and compact the history
              reset                     drop every connection with a TCP reset
              end-watches               end every watch cleanly
              clear                     cancel a stall and pending failures
        """

    /// Parses one spec.
    ///
    /// - Throws: ``FakeAPIFaultError`` naming the spec and what is wrong with it.
    public init(parsing spec: String) throws(FakeAPIFaultError) {
        let text = spec.trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts.first ?? ""
        let argument = parts.count == 2 ? parts[1] : nil
        func noArgument() throws(FakeAPIFaultError) {
            if argument != nil { throw FakeAPIFaultError(spec: text, reason: "\(name) takes no value") }
        }
        switch name {
        case "stall":
            guard let argument, let duration = Self.duration(argument) else {
                throw FakeAPIFaultError(spec: text, reason: "want stall=DURATION, e.g. stall=30s or stall=500ms")
            }
            self = .stall(duration)
        case "fail":
            let fields = (argument ?? "").split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...3).contains(fields.count), fields.allSatisfy({ $0 != nil && $0! >= 0 }), let count = fields[0] else {
                throw FakeAPIFaultError(spec: text, reason: "want fail=N[:CODE[:RETRY_AFTER_SECONDS]], e.g. fail=5:503")
            }
            let code = fields.count > 1 ? fields[1]! : 500
            guard (400...599).contains(code) else { throw FakeAPIFaultError(spec: text, reason: "CODE must be an HTTP error, 400-599") }
            self = .fail(count: count, code: code, retryAfter: fields.count > 2 ? fields[2] : nil)
        case "gone":
            try noArgument()
            self = .gone
        case "reset":
            try noArgument()
            self = .reset
        case "end-watches":
            try noArgument()
            self = .endWatches
        case "clear":
            try noArgument()
            self = .clear
        default:
            throw FakeAPIFaultError(spec: text, reason: "unknown fault; one of stall, fail, gone, reset, end-watches, clear")
        }
    }

    /// The spec that parses back to this fault.
    public var description: String {
        switch self {
        case .stall(let duration):
            let (seconds, attoseconds) = duration.components
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            return milliseconds % 1000 == 0 ? "stall=\(milliseconds / 1000)s" : "stall=\(milliseconds)ms"
        case .fail(let count, let code, let retryAfter):
            return "fail=\(count):\(code)" + (retryAfter.map { ":\($0)" } ?? "")
        case .gone: return "gone"
        case .reset: return "reset"
        case .endWatches: return "end-watches"
        case .clear: return "clear"
        }
    }

    /// `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return .milliseconds(value * milliseconds)
        }
        guard let seconds = Int64(text), seconds >= 0 else { return nil }
        return .seconds(seconds)
    }
}

/// A fault spec that does not parse.
public struct FakeAPIFaultError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The spec as given.
    public var spec: String
    /// What is wrong with it.
    public var reason: String

    /// The spec in quotes, then the reason.
    public var description: String { "fault \"\(spec)\": \(reason)" }
}

extension FakeAPIServer {
    /// Injects `fault` now (see ``FakeAPIFault`` for what each does).
    public func inject(_ fault: FakeAPIFault) {
        switch fault {
        case .stall(let duration):
            stall(for: duration)
        case .fail(let count, let code, let retryAfter):
            failNext(count, status: code, retryAfter: retryAfter)
        case .gone:
            sendGoneToWatches()
            compact()
        case .reset:
            dropConnections()
        case .endWatches:
            endWatches()
        case .clear:
            state.withLock { state in
                state.stalledUntil = nil
                state.failures.remaining = 0
            }
        }
    }
}
