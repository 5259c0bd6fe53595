import Foundation
import KubeProxyCore
import NIOCore
import NIOPosix
import Synchronization

/// A UDP server on loopback that plays an endpoint: answers every datagram with `reply(payload)`
/// and remembers who sent the last one (the proxy's session socket).
struct TestUDPBackend: Sendable {
    let channel: any Channel
    let host: IPAddress
    let port: Int
    private let peers: PeerLog

    /// What the proxy should send to.
    var endpoint: EndpointAddress { EndpointAddress(ip: host, port: port) }

    /// The address the last datagram came from.
    var lastPeer: SocketAddress? { peers.last }

    /// Answers `"<name>:<payload>"`.
    static func echo(_ name: String, host: String = "127.0.0.1") async throws -> TestUDPBackend {
        try await start(host: host) { payload in
            var reply = ByteBuffer(string: name + ":")
            reply.writeImmutableBuffer(payload)
            return reply
        }
    }

    /// Answers with the payload unchanged (for datagrams at the size limit).
    static func mirror(host: String = "127.0.0.1") async throws -> TestUDPBackend {
        try await start(host: host) { $0 }
    }

    private static func start(
        host: String,
        reply: @escaping @Sendable (ByteBuffer) -> ByteBuffer
    ) async throws -> TestUDPBackend {
        let peers = PeerLog()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(reply: reply, peers: peers))
                }
            }
            .bind(to: try SocketAddress(ipAddress: host, port: 0))
            .get()
        return TestUDPBackend(channel: channel, host: IPAddress(host)!, port: channel.localAddress!.port!, peers: peers)
    }

    func close() async {
        try? await channel.close()
    }

    private final class ReplyHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let reply: @Sendable (ByteBuffer) -> ByteBuffer
        let peers: PeerLog

        init(reply: @escaping @Sendable (ByteBuffer) -> ByteBuffer, peers: PeerLog) {
            self.reply = reply
            self.peers = peers
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let request = unwrapInboundIn(data)
            peers.record(request.remoteAddress)
            let answer = AddressedEnvelope(remoteAddress: request.remoteAddress, data: reply(request.data))
            context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
        }
    }

    private final class PeerLog: Sendable {
        private let value = Mutex<SocketAddress?>(nil)
        func record(_ peer: SocketAddress) { value.withLock { $0 = peer } }
        var last: SocketAddress? { value.withLock { $0 } }
    }
}

/// A UDP client on loopback: sends datagrams to a proxy port and collects what comes back.
final class TestUDPClient: Sendable {
    let channel: any Channel
    let host: String
    private let inbox: Inbox

    private init(channel: any Channel, host: String, inbox: Inbox) {
        self.channel = channel
        self.host = host
        self.inbox = inbox
    }

    /// A client socket on `host`, ephemeral port.
    static func make(host: String = "127.0.0.1") async throws -> TestUDPClient {
        let inbox = Inbox()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                }
            }
            .bind(to: try SocketAddress(ipAddress: host, port: 0))
            .get()
        return TestUDPClient(channel: channel, host: host, inbox: inbox)
    }

    func send(_ payload: ByteBuffer, to port: Int) async throws {
        let envelope = AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: host, port: port), data: payload)
        try await channel.writeAndFlush(envelope)
    }

    /// The next datagram received, or `nil` when none arrives within `timeout`.
    func receive(timeout: Duration = .seconds(3)) async throws -> ByteBuffer? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let datagram = inbox.take() { return datagram }
            try await Task.sleep(for: .milliseconds(5))
        }
        return inbox.take()
    }

    /// Sends `text` and returns the text of the reply (`nil` when none came).
    func request(_ text: String, port: Int, timeout: Duration = .seconds(3)) async throws -> String? {
        try await send(ByteBuffer(string: text), to: port)
        return try await receive(timeout: timeout).map { String(buffer: $0) }
    }

    func close() async {
        try? await channel.close()
    }

    private final class Inbox: Sendable {
        private let datagrams = Mutex<[ByteBuffer]>([])
        func put(_ datagram: ByteBuffer) { datagrams.withLock { $0.append(datagram) } }
        func take() -> ByteBuffer? {
            datagrams.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        }
    }

    private final class InboxHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let inbox: Inbox
        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            inbox.put(unwrapInboundIn(data).data)
        }
    }
}

/// The inode of this process's IPv4 UDP socket bound to `address`'s port (on its address or the
/// wildcard); `nil` when there is none. Used to see that the proxy (in this process) closed a
/// session's socket: a closed socket's inode is gone for good, whereas its freed port may be taken
/// at once by a parallel test's socket. The search walks `/proc/self/fd` and asks each socket its
/// own name: paging through `/proc/net/udp` can skip a line while parallel tests open and close
/// sockets (the kernel resumes each page by position), which once made an open socket look absent.
func udpSocketInode(_ address: SocketAddress) -> UInt64? {
    guard let port = address.port, let ip = address.ipAddress, let parsed = IPAddress(ip), case .v4 = parsed else {
        return nil
    }
    for (fd, inode) in ownSockets() {
        var type: Int32 = 0
        var typeLength = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) == 0, type == Int32(SOCK_DGRAM.rawValue) else {
            continue
        }
        var name = sockaddr_in()
        var nameLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &nameLength) }
        }
        guard named == 0, name.sin_family == sa_family_t(AF_INET), Int(UInt16(bigEndian: name.sin_port)) == port else {
            continue
        }
        let bound = IPAddress.v4(UInt32(bigEndian: name.sin_addr.s_addr))
        if bound == parsed || name.sin_addr.s_addr == 0 { return inode }
    }
    return nil
}

/// Whether this process still holds the socket with this inode.
func udpSocketExists(inode: UInt64) -> Bool {
    ownSockets().contains { $0.inode == inode }
}

/// This process's open sockets: descriptor and inode (from the `socket:[N]` link in `/proc/self/fd`).
private func ownSockets() -> [(fd: Int32, inode: UInt64)] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return [] }
    return names.compactMap { name in
        guard let fd = Int32(name),
            let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name),
            target.hasPrefix("socket:["), target.hasSuffix("]"),
            let inode = UInt64(target.dropFirst("socket:[".count).dropLast())
        else { return nil }
        return (fd, inode)
    }
}
