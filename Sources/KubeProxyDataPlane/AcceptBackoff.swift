import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Accept back-off for every listening TCP socket of the proxy (data plane and HTTP servers).
///
/// Why it is needed: NIO's `ServerBootstrap.bind(to:)` (the `EventLoopFuture` API) installs no
/// `AcceptBackoffHandler`; only the `NIOAsyncChannel` variants do. NIO treats `EMFILE`, `ENFILE`,
/// `ENOBUFS`, `ENOMEM` and `ECONNABORTED` from `accept4` as recoverable: it fires `errorCaught`,
/// keeps the read pending and stays registered for readability. The pending connection is still
/// in the kernel backlog, so level-triggered epoll reports the socket readable again at once and
/// the loop calls `accept4` again: a 100 % CPU spin (measured: 13,497 failing `accept4` calls in
/// 7 s with 600 idle clients and `ulimit -n 512`) that also starves every other channel of that
/// event loop. Installing the handler below in `serverChannelInitializer` bounds the rate.
///
/// Usage: `ServerBootstrap(...).serverChannelInitializer { AcceptBackoff.install(on: $0) }`.
public enum AcceptBackoff {
    /// How long a listener stops accepting after a resource error: at most 10 `accept4` calls per
    /// second per listener while descriptors or kernel memory are exhausted, and a new client
    /// waits at most this long in the backlog once descriptors are free again.
    public static let delay: TimeAmount = .milliseconds(100)

    /// The pause after `error` from `accept4`, `nil` for none.
    ///
    /// `ECONNABORTED` concerns one connection that was reset while queued; the next one can be
    /// accepted at once. Every other error (descriptor or memory exhaustion) waits `delay`.
    public static func delay(after error: IOError) -> TimeAmount? {
        error.errnoCode == ECONNABORTED ? nil : delay
    }

    /// Adds NIO's `AcceptBackoffHandler` with `delay(after:)` as the first handler of
    /// `serverChannel`; call from `serverChannelInitializer`. The error is not passed on: it is
    /// expected under load and would otherwise be logged once per attempt.
    public static func install(on serverChannel: any Channel) -> EventLoopFuture<Void> {
        serverChannel.eventLoop.makeCompletedFuture {
            let handler = AcceptBackoffHandler(shouldForwardIOErrorCaught: false, backoffProvider: delay(after:))
            try serverChannel.pipeline.syncOperations.addHandler(handler, position: .first)
        }
    }
}
