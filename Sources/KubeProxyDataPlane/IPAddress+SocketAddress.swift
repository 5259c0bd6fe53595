import KubeProxyCore
import NIOCore

extension IPAddress {
    /// The NIO socket address for `self:port`, built from the raw bytes (no text round trip).
    func socketAddress(port: Int) throws -> SocketAddress {
        try SocketAddress(packedIPAddress: ByteBuffer(bytes: bytes), port: port)
    }

    /// The IP of a peer's socket address; `nil` for Unix-domain or unknown peers.
    init?(socketAddress: SocketAddress?) {
        guard let text = socketAddress?.ipAddress else { return nil }
        self.init(text)
    }
}
