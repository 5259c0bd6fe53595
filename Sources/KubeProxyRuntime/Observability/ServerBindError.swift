import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An observability HTTP server (healthz, metrics, a per-service health check) could not listen.
///
/// Carries what an operator needs to fix it without reading code: which server, the exact
/// address, and the OS error (`EADDRINUSE` is the usual one: another kube-proxy, or a
/// `healthCheckNodePort` that collides with a host service).
public struct ServerBindError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which server: `healthz`, `metrics`, or `health check for <namespace>/<name>`.
    public var server: String
    /// The address it tried, `ip:port` (`[ip]:port` for IPv6).
    public var address: String
    /// The `errno` of the failed `bind`/`listen`, when the system reported one.
    public var errno: Int32?
    /// The error text (the OS message when there is an `errno`).
    public var detail: String

    /// Creates an error.
    public init(server: String, address: String, errno: Int32?, detail: String) {
        self.server = server
        self.address = address
        self.errno = errno
        self.detail = detail
    }

    /// Wraps whatever the bind threw; `IOError`s contribute their `errno` and the OS message.
    init(server: String, address: String, underlying error: any Error) {
        if let io = error as? IOError {
            let message = String(cString: strerror(io.errnoCode))
            self.init(server: server, address: address, errno: io.errnoCode, detail: message)
        } else {
            self.init(server: server, address: address, errno: nil, detail: "\(error)")
        }
    }

    /// `failed to start <server> on <address>: <detail> (errno N)`.
    public var description: String {
        let code = errno.map { " (errno \($0))" } ?? ""
        return "failed to start \(server) on \(address): \(detail)\(code)"
    }
}
