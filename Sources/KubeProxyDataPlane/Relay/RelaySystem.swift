import KubeProxyCore

#if canImport(Glibc)
    import CKubeProxyLinux
    import Glibc
#endif

#if canImport(Glibc)

    /// The `epoll` flags the relay uses, as plain bits: Glibc imports some of them as enum
    /// cases of different types.
    enum EpollBits {
        static let readable: UInt32 = 0x001
        static let writable: UInt32 = 0x004
        static let error: UInt32 = 0x008
        static let hangUp: UInt32 = 0x010
        static let readHangUp: UInt32 = 0x2000
        static let edgeTriggered: UInt32 = 1 << 31
    }

    /// Plain system-call helpers of the relay: sockets as integers, errors as `errno`.
    enum RelaySystem {
        /// Monotonic nanoseconds, the clock of every relay timer.
        static func now() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
        }

        /// `TCP_DEFER_ACCEPT` on a connecting socket: Linux then holds back the handshake's
        /// last ACK (as it does for a socket with a write already waiting) so that it rides on
        /// the first bytes sent, and the backend's listener completes the connection, queues it
        /// and wakes its accepting thread once, with the request already there. On loopback that
        /// bare ACK and the backend's wake-up were charged to the relay's `connect`: about a
        /// sixth of the relay's CPU per short-lived connection (docs/dataplane-profile.md,
        /// "Tenth pass"). The kernel sends the ACK by itself after its delayed-ACK timer
        /// (200 ms); `RelayLoop.connected` sends it at once when the client has nothing to
        /// send yet (`sendAckNow`), so a server-first protocol is not held up.
        static let deferHandshakeAck = ListeningSocket.Option(
            level: Int32(IPPROTO_TCP), name: Int32(TCP_DEFER_ACCEPT), value: 1)

        /// `TCP_QUICKACK` 1: on an established socket with an ACK scheduled, sends it at once.
        static let quickAck = ListeningSocket.Option(level: Int32(IPPROTO_TCP), name: Int32(TCP_QUICKACK), value: 1)

        /// Sends an acknowledgement the socket holds back, now.
        static func sendAckNow(_ fd: Int32) { setOption(fd, quickAck) }

        /// Sets `option` on `fd`; `false` on failure.
        @discardableResult
        static func setOption(_ fd: Int32, _ option: ListeningSocket.Option) -> Bool {
            var value = option.value
            return setsockopt(fd, option.level, option.name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
        }

        /// The pending error of a socket (`SO_ERROR`), e.g. why a non-blocking connect failed.
        static func socketError(_ fd: Int32) -> Int32 {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
            return value
        }

        /// The port a socket is bound to (`getsockname`), 0 when unknown.
        static func localPort(_ fd: Int32) -> Int {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let got = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard got == 0 else { return 0 }
            return withUnsafePointer(to: &storage) { pointer -> Int in
                switch Int32(pointer.pointee.ss_family) {
                case AF_INET:
                    return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        Int(UInt16(bigEndian: $0.pointee.sin_port))
                    }
                case AF_INET6:
                    return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        Int(UInt16(bigEndian: $0.pointee.sin6_port))
                    }
                default:
                    return 0
                }
            }
        }

        /// The IP of a peer address filled in by `accept4`; `nil` for other families.
        static func ipAddress(_ storage: inout sockaddr_storage) -> IPAddress? {
            withUnsafePointer(to: &storage) { pointer -> IPAddress? in
                switch Int32(pointer.pointee.ss_family) {
                case AF_INET:
                    return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        .v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
                    }
                case AF_INET6:
                    return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                        withUnsafeBytes(of: address.pointee.sin6_addr) { bytes in
                            var high: UInt64 = 0
                            var low: UInt64 = 0
                            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
                            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
                            return .v6(high, low)
                        }
                    }
                default:
                    return nil
                }
            }
        }

        /// Starts a non-blocking connect of `fd` to `endpoint`: 0 when connected at once, else
        /// the `errno` (`EINPROGRESS` while the handshake runs). The address is built on the
        /// stack: `IPAddress.socketAddress(port:)` goes through a `ByteBuffer` and NIO's
        /// `SocketAddress`, allocations this per-connection path does not need.
        static func connect(_ fd: Int32, to endpoint: EndpointAddress) -> Int32 {
            let port = UInt16(truncatingIfNeeded: endpoint.port).bigEndian
            let result: Int32
            switch endpoint.ip {
            case .v4(let address):
                var socketAddress = sockaddr_in()
                socketAddress.sin_family = sa_family_t(AF_INET)
                socketAddress.sin_port = port
                socketAddress.sin_addr.s_addr = address.bigEndian
                result = withUnsafePointer(to: &socketAddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            case .v6(let high, let low):
                var socketAddress = sockaddr_in6()
                socketAddress.sin6_family = sa_family_t(AF_INET6)
                socketAddress.sin6_port = port
                withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { bytes in
                    for index in 0..<8 {
                        bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(index)))
                        bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(index)))
                    }
                }
                result = withUnsafePointer(to: &socketAddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            }
            return result == 0 ? 0 : errno
        }

        /// A non-blocking, close-on-exec TCP socket of `family`, or `-errno`.
        static func tcpSocket(_ family: IPFamily) -> Int32 {
            let domain = family == .ipv4 ? AF_INET : AF_INET6
            let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            return fd >= 0 ? fd : -errno
        }

        /// The text of `errno` code `code` (`strerror`).
        static func describe(_ code: Int32) -> String {
            guard let text = strerror(code) else { return "errno \(code)" }
            return "\(String(cString: text)) (errno \(code))"
        }
    }

#endif
