import KubeProxyHost

#if canImport(Glibc)
    import Glibc
#endif

/// Runs code on the calling thread inside a network namespace the test made, for kernel
/// objects that are reached through a socket rather than a command (`ip netns exec` cannot
/// help there): a socket keeps the namespace it was made in, so `body` typically just opens one.
public enum NetworkNamespaceEntry {
    /// Runs `body` inside the namespace `/run/netns/NAME` and switches this thread back before
    /// returning. `body` must not suspend (it is synchronous): the switch is per thread.
    /// `setns` is looked up at run time because Glibc's module map does not export it.
    public static func run<T>(_ name: String, _ body: () throws(HostError) -> T) throws(HostError) -> T {
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "setns") else { throw HostError(.launchFailed("setns not found"), command: ["dlsym"]) }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let cloneNewNet: Int32 = 0x4000_0000
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw HostError(.systemCall(errno: errno), command: ["open", "/proc/thread-self/ns/net"]) }
        defer { close(home) }
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw HostError(.systemCall(errno: errno), command: ["open", "/run/netns/\(name)"]) }
        defer { close(target) }
        guard setns(target, cloneNewNet) == 0 else { throw HostError(.systemCall(errno: errno), command: ["setns", name]) }
        defer {
            // A thread left in the test's namespace would open later sockets there: stop instead.
            precondition(setns(home, cloneNewNet) == 0, "cannot return to the original network namespace")
        }
        return try body()
    }

    /// An nfacct client whose requests go to the namespace `name`'s objects.
    public static func nfacct(_ name: String) -> SystemNFAcct {
        SystemNFAcct(openSocket: { () throws(HostError) -> Int32 in
            try run(name) { () throws(HostError) -> Int32 in try SystemNFAcct.netfilterSocket() }
        })
    }
}
