import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A socket created, configured and bound with plain system calls, then handed to NIO with
/// `withBoundSocket` (issue #9: opening 10,000 listeners).
///
/// Why not `ServerBootstrap.bind(to:)` / `DatagramBootstrap.bind(to:)`: NIO applies every
/// bootstrap option and the register and bind steps through their own promises and event-loop
/// tasks, most of the CPU of opening a listener. Here the option values are set with one
/// `setsockopt` each and `bind` (and `listen`) run on the caller's thread, so a failure
/// (`EADDRINUSE`, `EMFILE`) is thrown at once as an `IOError` carrying the system's errno and
/// the call that failed, and NIO only wraps the finished socket. The descriptor is closed on
/// every failure before NIO owns it.
enum ListeningSocket {
    /// One socket option: `setsockopt(level, name, value)` with an `int` value.
    struct Option: Hashable, Sendable {
        /// `SOL_SOCKET`, `IPPROTO_TCP`, `IPPROTO_IPV6`.
        var level: Int32
        /// The option name.
        var name: Int32
        /// The value (every option used here is an `int`).
        var value: Int32
    }

    /// `SO_REUSEADDR`: like Go's `net.Listen`, a port freed by a removed service is reusable at
    /// once while its old connections sit in `TIME_WAIT` (two live listeners still cannot share it).
    static let reuseAddress = Option(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
    /// `SO_REUSEPORT`: the sibling sockets of one port, one per event loop.
    static let reusePort = Option(level: SOL_SOCKET, name: SO_REUSEPORT, value: 1)
    /// `TCP_NODELAY`: set on a listening socket, Linux copies it to every accepted socket.
    static let noDelay = Option(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
    /// `IPV6_V6ONLY`: an IPv6 wildcard socket that leaves IPv4 alone.
    static let v6Only = Option(level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1)

    /// The keepalive options of `keepalive` as plain options, `SO_KEEPALIVE` first; set on a
    /// listening socket, Linux copies them to every accepted socket.
    static func keepaliveOptions(_ keepalive: TCPKeepalive) -> [Option] {
        let tcp = Int32(IPPROTO_TCP)
        return [
            Option(level: SOL_SOCKET, name: SO_KEEPALIVE, value: 1),
            Option(level: tcp, name: TCP_KEEPIDLE, value: Int32(clamping: keepalive.idleSeconds)),
            Option(level: tcp, name: TCP_KEEPINTVL, value: Int32(clamping: keepalive.intervalSeconds)),
            Option(level: tcp, name: TCP_KEEPCNT, value: Int32(clamping: keepalive.probeCount)),
        ]
    }

    /// A non-blocking, close-on-exec TCP socket bound to `address` with `options` and listening
    /// with `backlog`. Throws the failing call's `IOError`; nothing stays open then.
    static func tcp(address: SocketAddress, options: [Option], backlog: Int32) throws -> NIOBSDSocket.Handle {
        let fd = try make(address: address, type: stream, options: options)
        guard listen(fd, backlog) == 0 else { throw closing(fd, call: "listen") }
        return fd
    }

    /// A non-blocking, close-on-exec UDP socket bound to `address` with `options`. Throws the
    /// failing call's `IOError`; nothing stays open then.
    static func udp(address: SocketAddress, options: [Option]) throws -> NIOBSDSocket.Handle {
        try make(address: address, type: datagram, options: options)
    }

    /// `listen(fd, backlog)` again on a listening socket: NIO's channel for an adopted socket
    /// calls `listen` with its own default backlog (128), and a second call only sets the
    /// queue's length. Throws the `IOError` of a failing call (the channel then closes it).
    static func setBacklog(_ fd: NIOBSDSocket.Handle, _ backlog: Int32) throws {
        guard listen(fd, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
    }

    private static func make(address: SocketAddress, type: Int32, options: [Option]) throws -> NIOBSDSocket.Handle {
        let family: Int32
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        case .unixDomainSocket: throw IOError(errnoCode: EAFNOSUPPORT, reason: "socket")
        }
        #if canImport(Glibc) || canImport(Musl)
            let fd = socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
            // No creation flags here; NIO makes an adopted socket non-blocking.
            let fd = socket(family, type, 0)
        #endif
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        for option in options {
            var value = option.value
            guard setsockopt(fd, option.level, option.name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                throw closing(fd, call: "setsockopt(\(option.level), \(option.name))")
            }
        }
        let bound = address.withSockAddr { pointer, length in bind(fd, pointer, socklen_t(length)) }
        guard bound == 0 else { throw closing(fd, call: "bind(\(address))") }
        return fd
    }

    /// The `IOError` of `call` (from the current `errno`), after closing `fd`.
    private static func closing(_ fd: NIOBSDSocket.Handle, call: String) -> IOError {
        let code = errno
        close(fd)
        return IOError(errnoCode: code, reason: call)
    }

    #if canImport(Glibc) || canImport(Musl)
        private static let stream = Int32(SOCK_STREAM.rawValue)
        private static let datagram = Int32(SOCK_DGRAM.rawValue)
    #else
        private static let stream = SOCK_STREAM
        private static let datagram = SOCK_DGRAM
    #endif
}
