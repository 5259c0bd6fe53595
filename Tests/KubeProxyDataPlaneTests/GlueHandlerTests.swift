import NIOCore
import NIOEmbedded
import Testing

@testable import KubeProxyDataPlane

/// The relay pair on two `EmbeddedChannel`s sharing one loop, as in production.
@Suite("GlueHandler")
struct GlueHandlerTests {
    /// Counts `read()` requests that reach the channel (sits between the glue and the head).
    final class ReadRecorder: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var reads = 0

        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    struct Pair {
        let client: EmbeddedChannel
        let backend: EmbeddedChannel
        let clientReads: ReadRecorder
        let backendReads: ReadRecorder
    }

    func makePair(counters: ListenerCounters? = nil) async throws -> Pair {
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let backend = EmbeddedChannel(loop: loop)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        try await client.connect(to: address).get()
        try await backend.connect(to: address).get()
        let (clientGlue, backendGlue) = GlueHandler.matchedPair(counters: counters)
        let clientReads = ReadRecorder()
        let backendReads = ReadRecorder()
        try client.pipeline.syncOperations.addHandlers([clientReads, clientGlue])
        try backend.pipeline.syncOperations.addHandlers([backendReads, backendGlue])
        return Pair(client: client, backend: backend, clientReads: clientReads, backendReads: backendReads)
    }

    func text(_ channel: EmbeddedChannel) throws -> String? {
        try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
    }

    @Test func relaysBytesBothWays() async throws {
        let pair = try await makePair()
        try pair.client.writeInbound(ByteBuffer(string: "ping"))
        #expect(try text(pair.backend) == "ping")
        try pair.backend.writeInbound(ByteBuffer(string: "pong"))
        #expect(try text(pair.client) == "pong")
        #expect(try text(pair.client) == nil)
    }

    /// A read is passed to the channel only while the partner is writable; a held-back read is
    /// issued when the partner's writability returns.
    @Test func readsOnlyWhileThePartnerIsWritable() async throws {
        let pair = try await makePair()
        pair.client.read()
        #expect(pair.clientReads.reads == 1)

        pair.backend.isWritable = false
        pair.backend.pipeline.fireChannelWritabilityChanged()
        pair.client.read()
        try pair.client.writeInbound(ByteBuffer(string: "more"))
        #expect(pair.clientReads.reads == 1)

        pair.backend.isWritable = true
        pair.backend.pipeline.fireChannelWritabilityChanged()
        #expect(pair.clientReads.reads == 2)
        #expect(pair.backendReads.reads == 0)
    }

    /// autoRead is off in production, so the glue asks for the next burst after each one.
    @Test func asksForTheNextBurstAfterEachRead() async throws {
        let pair = try await makePair()
        try pair.client.writeInbound(ByteBuffer(string: "a"))
        try pair.client.writeInbound(ByteBuffer(string: "b"))
        #expect(pair.clientReads.reads == 2)
    }

    /// Either side closing closes the other, after delivering what it already sent.
    @Test func closeOfOneSideFlushesThenClosesTheOther() async throws {
        let pair = try await makePair()
        try pair.backend.writeInbound(ByteBuffer(string: "last words"))
        try await pair.backend.close()
        #expect(try text(pair.client) == "last words")
        #expect(!pair.client.isActive)
    }

    /// Bytes are counted per direction and reported after each read burst and at close.
    @Test func countsRelayedBytesPerDirection() async throws {
        let counters = ListenerCounters()
        let pair = try await makePair(counters: counters)
        try pair.client.writeInbound(ByteBuffer(string: "12345"))
        try pair.client.writeInbound(ByteBuffer(string: "678"))
        try pair.backend.writeInbound(ByteBuffer(string: "ok"))
        #expect(counters.snapshot().bytesClientToBackend == 8)
        #expect(counters.snapshot().bytesBackendToClient == 2)

        // Read without a burst end: reported when the channel closes.
        pair.backend.pipeline.fireChannelRead(ByteBuffer(string: "late"))
        #expect(counters.snapshot().bytesBackendToClient == 2)
        try await pair.backend.close()
        #expect(counters.snapshot().bytesBackendToClient == 6)
        #expect(counters.snapshot().bytesClientToBackend == 8)
    }

    @Test func errorOnOneSideClosesBoth() async throws {
        let pair = try await makePair()
        struct Reset: Error {}
        pair.client.pipeline.fireErrorCaught(Reset())
        #expect(!pair.client.isActive)
        #expect(!pair.backend.isActive)
    }
}
