@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The receive buffer of every UDP socket of the proxy: one 64 KiB region per event-loop thread,
/// shared by all the UDP sockets of that loop, from which each datagram is copied out at its own
/// size.
///
/// Why: NIO keeps the receive buffer of every channel in a pool for the channel's lifetime. With
/// a 64 KiB buffer per socket (needed so no datagram is cut, docs/userspace-behaviour.md#udp-datagram-size), every UDP session cost
/// about 130 KiB of resident memory and 10,000 spoofed sources held 1.3 GB. Here the pooled
/// buffer of every socket is a view of its loop's region, so a session costs only its channel
/// objects and the bytes it actually holds.
///
/// Safety contract (why sharing the region is sound): a loop runs one read at a time, the bytes
/// read are copied out by `copyOut` in the first handler of the pipeline before anything else
/// runs on the loop, and that handler never passes the received buffer on. The pool's view is
/// then the only reference again, so NIO reuses it for the next read instead of allocating. A
/// received buffer that grows gets heap memory; one that is merely copied stays in the region
/// (see `regionAllocator`), so no handler may keep or mutate a received buffer.
enum UDPReceiveBuffer {
    /// More than the largest UDP payload (65,507 bytes over IPv4, 65,527 over IPv6), so no
    /// datagram is ever truncated. Upstream used 4096 bytes (kubernetes/kubernetes#47659).
    static let size = 65_536

    /// The receive allocator of every proxy UDP socket.
    static var receiveAllocator: Allocator { Allocator() }

    /// Hands NIO a view of the current thread's region for every read.
    struct Allocator: RecvByteBufferAllocator {
        /// A fresh view of the current thread's region (the channel's allocator is not used).
        func buffer(allocator _: ByteBufferAllocator) -> ByteBuffer {
            let region = UnsafeMutableRawBufferPointer(start: UDPReceiveBuffer.threadRegion(), count: size)
            return ByteBuffer(takingOwnershipOf: region, allocator: regionAllocator, readerIndex: 0, writerIndex: 0)
        }

        /// Always the full region, so NIO's pool keeps reusing its view.
        func nextBufferSize() -> Int? {
            size
        }

        /// The size never changes.
        mutating func record(actualReadBytes: Int) -> Bool {
            false
        }
    }

    /// Copies a received datagram into a buffer of its own size (rounded up to a power of two by
    /// `ByteBuffer`), releasing the shared region for the next read.
    static func copyOut(_ received: ByteBuffer, using allocator: ByteBufferAllocator) -> ByteBuffer {
        var copy = allocator.buffer(capacity: received.readableBytes)
        copy.writeImmutableBuffer(received)
        return copy
    }

    /// This thread's region, allocated on first use and kept for the thread's lifetime (one per
    /// event-loop thread).
    static func threadRegion() -> UnsafeMutableRawPointer {
        if let region = pthread_getspecific(regionKey) { return region }
        guard let region = malloc(size) else { fatalError("cannot allocate the \(size)-byte UDP receive buffer") }
        regions.withLock { _ = $0.insert(UInt(bitPattern: region)) }
        pthread_setspecific(regionKey, region)
        return region
    }

    /// Whether `pointer` is the start of a thread's region.
    static func isRegion(_ pointer: UnsafeMutableRawPointer?) -> Bool {
        guard let pointer else { return false }
        return regions.withLock { $0.contains(UInt(bitPattern: pointer)) }
    }
}

/// The thread-specific key of each thread's region.
private let regionKey: pthread_key_t = {
    var key = pthread_key_t()
    guard pthread_key_create(&key, nil) == 0 else { fatalError("pthread_key_create failed") }
    return key
}()

/// Every region handed out, so `free` and `realloc` can tell them from heap blocks.
private let regions = Mutex<Set<UInt>>([])

/// The allocator of buffers viewing a region: regions are never freed; a buffer that has to grow
/// gets ordinary heap memory.
///
/// A region-sized allocation is the region itself: NIO's pool stores a new receive buffer and
/// then writes into it while a second reference still exists, so the write copies the storage
/// (copy-on-write) through this allocator. Answering that copy with the region keeps the pool's
/// buffer a view of it instead of 64 KiB of heap per socket. Only copies of region views reach
/// this allocator, and the copy then moves the region's bytes onto themselves (`memmove`).
private let regionAllocator = ByteBufferAllocator(
    allocate: { size in size == UDPReceiveBuffer.size ? UDPReceiveBuffer.threadRegion() : malloc(size) },
    reallocate: { pointer, oldSize, newSize in
        guard UDPReceiveBuffer.isRegion(pointer), let pointer else { return realloc(pointer, newSize) }
        guard let moved = malloc(newSize) else { return nil }
        moved.copyMemory(from: pointer, byteCount: Int(min(oldSize, newSize)))
        return moved
    },
    deallocate: { pointer in
        if !UDPReceiveBuffer.isRegion(pointer) { free(pointer) }
    },
    copy: { destination, source, count in
        if UnsafeRawPointer(destination) != source {
            destination.copyMemory(from: source, byteCount: Int(count))
        }
    }
)
