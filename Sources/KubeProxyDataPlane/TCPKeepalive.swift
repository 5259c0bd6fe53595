import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// TCP keepalive of both sockets of every relayed connection.
///
/// Upstream's Go listener and dialer enable keepalive by default (idle 15 s, interval 15 s,
/// count 9 — Go 1.23's `KeepAliveConfig` defaults, the count being Linux's default too). Without
/// it, a client or backend that vanishes without FIN or RST (power loss, a dropped NAT entry)
/// keeps both sockets established forever and counts as an active connection. With it the dead
/// side is found after idle + count × interval (150 s) at most, the socket reports an error,
/// and the relay closes both sides.
struct TCPKeepalive: Sendable, Hashable {
    /// Seconds of silence before the first probe (`TCP_KEEPIDLE`).
    var idleSeconds: Int
    /// Seconds between unanswered probes (`TCP_KEEPINTVL`).
    var intervalSeconds: Int
    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`).
    var probeCount: Int

    /// Upstream's values (see the type's documentation).
    static let upstream = TCPKeepalive(idleSeconds: 15, intervalSeconds: 15, probeCount: 9)

    /// The socket options to set, in order; `SO_KEEPALIVE` first.
    var options: [(ChannelOptions.Types.SocketOption, SocketOptionValue)] {
        [
            (ChannelOptions.socketOption(.so_keepalive), 1),
            (Self.tcpOption(TCP_KEEPIDLE), idleSeconds),
            (Self.tcpOption(TCP_KEEPINTVL), intervalSeconds),
            (Self.tcpOption(TCP_KEEPCNT), probeCount),
        ]
    }

    /// A `IPPROTO_TCP`-level option; NIO names no keepalive timers.
    static func tcpOption(_ name: Int32) -> ChannelOptions.Types.SocketOption {
        ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name))
    }
}

extension ServerBootstrap {
    /// Enables `keepalive` on every accepted socket.
    func childKeepalive(_ keepalive: TCPKeepalive) -> ServerBootstrap {
        keepalive.options.reduce(self) { bootstrap, option in
            bootstrap.childChannelOption(option.0, value: option.1)
        }
    }
}

extension ClientBootstrap {
    /// Enables `keepalive` on the connecting socket (set before `connect`).
    func keepalive(_ keepalive: TCPKeepalive) -> ClientBootstrap {
        keepalive.options.reduce(self) { bootstrap, option in
            bootstrap.channelOption(option.0, value: option.1)
        }
    }
}
