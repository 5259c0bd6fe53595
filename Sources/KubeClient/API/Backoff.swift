/// Exponential backoff with jitter, as client-go's reflector uses it against an unhealthy API
/// server: 800 ms doubling to a 30 s cap, each delay stretched by up to 100 % jitter, and reset
/// to the start after two minutes without a failure.
///
/// Why these numbers: they are client-go's (`reflector.go`), chosen so thousands of nodes
/// retrying a struggling server average about 0.22 requests per second each, and so the delays
/// spread out instead of arriving in waves. A `Retry-After` the server sends is a floor.
///
/// Pure: the caller supplies the time (any monotonic offset) and the random jitter in `0..<1`.
struct Backoff: Sendable, Hashable {
    /// The first delay.
    var initial: Duration = .milliseconds(800)
    /// The largest delay before jitter.
    var cap: Duration = .seconds(30)
    /// How much each delay may grow at random: `1.0` means up to twice the base delay.
    var jitter: Double = 1.0
    /// After this long without a backoff the next one starts from `initial` again.
    var resetAfter: Duration = .seconds(120)

    private var current: Duration?
    private var lastBackoff: Duration?

    /// Creates a policy with client-go's numbers unless told otherwise.
    init(
        initial: Duration = .milliseconds(800), cap: Duration = .seconds(30), jitter: Double = 1.0,
        resetAfter: Duration = .seconds(120)
    ) {
        self.initial = initial
        self.cap = cap
        self.jitter = jitter
        self.resetAfter = resetAfter
    }

    /// The next delay, taken at time `now`; `random` is in `0..<1` and picks the jitter;
    /// `retryAfter` (from the server) is a lower bound.
    mutating func next(now: Duration, random: Double, retryAfter: Duration? = nil) -> Duration {
        if let lastBackoff, now - lastBackoff > resetAfter { current = nil }
        let base = current.map { min($0 * 2, cap) } ?? initial
        current = base
        lastBackoff = now
        let delay = base + base * (jitter * min(max(random, 0), 1))
        guard let retryAfter else { return delay }
        return max(delay, retryAfter)
    }

    /// The base (un-jittered) delay the next failure would get if it came at `now`.
    func nextBase(now: Duration) -> Duration {
        if let lastBackoff, now - lastBackoff > resetAfter { return initial }
        return current.map { min($0 * 2, cap) } ?? initial
    }
}
