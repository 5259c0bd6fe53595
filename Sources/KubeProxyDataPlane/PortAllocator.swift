import KubeProxyCore

/// Hands out proxy (listening) ports, either "let the kernel pick" or from a `--proxy-port-range`.
///
/// Upstream semantics kept (docs/userspace-behaviour.md#port-allocation):
/// - kernel mode (no range) always answers 0 and `release` is a no-op;
/// - range mode tracks used ports in a bitmap; a search starts at a uniformly random offset, scans
///   up to the end of the range, then wraps to the start; a found port is marked used at once;
/// - releasing a port outside the range (including 0) is ignored.
///
/// Deliberately different from upstream:
/// - no background filler and no 1 s wait: allocation is synchronous and answers `nil`
///   at once when the range is exhausted, so nothing is pre-reserved;
/// - the caller releases a port whose bind failed and ports of closed listeners (upstream leaked them);
///   `UserspaceProxy` does both.
///
/// A value type: the owner (the proxy's actor) serialises access; randomness is injected so tests
/// are deterministic.
public struct PortAllocator: Sendable {
    /// The range, or `nil` in kernel-picks mode.
    public let range: PortRange?
    /// One flag per port of the range; `true` = allocated.
    private var used: [Bool]

    /// Creates an allocator over `range`; `nil` selects kernel-picks mode.
    public init(range: PortRange?) {
        self.range = range
        self.used = Array(repeating: false, count: range?.count ?? 0)
    }

    /// Allocates a port: 0 in kernel-picks mode, otherwise a free port of the range chosen from a
    /// random starting point; `nil` when every port of the range is in use.
    public mutating func allocate(using generator: inout some RandomNumberGenerator) -> Int? {
        guard !used.isEmpty else { return range == nil ? 0 : nil }
        return allocate(startingAt: Int.random(in: 0..<used.count, using: &generator))
    }

    /// Allocates using the system's random number generator.
    public mutating func allocate() -> Int? {
        var generator = SystemRandomNumberGenerator()
        return allocate(using: &generator)
    }

    /// The deterministic core of `allocate(using:)`: scan from `offset` up, then wrap around.
    mutating func allocate(startingAt offset: Int) -> Int? {
        guard let range else { return 0 }
        let count = used.count
        for step in 0..<count {
            let index = (offset + step) % count
            if !used[index] {
                used[index] = true
                return range.first + index
            }
        }
        return nil
    }

    /// Marks a specific port of the range allocated, for a listener that wants its previous port
    /// back (`ProxiedPort.preferredPort`); `false` when the port is outside the range, already
    /// allocated, or no range is configured (then there is nothing to reserve).
    public mutating func reserve(_ port: Int) -> Bool {
        guard let range, range.contains(port), !used[port - range.first] else { return false }
        used[port - range.first] = true
        return true
    }

    /// Returns `port` to the pool; ports outside the range (and kernel-mode 0) are ignored.
    public mutating func release(_ port: Int) {
        guard let range, range.contains(port) else { return }
        used[port - range.first] = false
    }

    /// Whether `port` is currently allocated (always `false` in kernel-picks mode).
    public func isAllocated(_ port: Int) -> Bool {
        guard let range, range.contains(port) else { return false }
        return used[port - range.first]
    }

    /// How many ports of the range are free (0 in kernel-picks mode, where the question is moot).
    public var availableCount: Int { used.lazy.filter { !$0 }.count }

    /// Whether no range is configured, so `allocate` always answers 0 and the kernel picks.
    public var isKernelPicked: Bool { range == nil }
}
