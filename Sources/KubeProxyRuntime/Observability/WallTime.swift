#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A wall-clock instant: the time since the Unix epoch, with nanosecond precision.
///
/// Why not `Date` or `ContinuousClock.Instant`: the health endpoints print times (RFC 3339, as
/// Go's `time.Time` marshals them) and the metrics export Unix timestamps, so the instant must
/// be wall time; `Date` is a `Double` that loses Go's nanoseconds and is not an
/// `InstantProtocol`, which Core's `ProxyHealth` needs. Tests build instants from fixed values.
public struct WallTime: InstantProtocol, CustomStringConvertible {
    /// Time since 1970-01-01T00:00:00Z (negative before it).
    public var sinceEpoch: Duration

    /// Creates an instant `sinceEpoch` after the Unix epoch.
    public init(sinceEpoch: Duration) {
        self.sinceEpoch = sinceEpoch
    }

    /// An instant a whole number of seconds (plus nanoseconds) after the epoch.
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.init(sinceEpoch: .seconds(seconds) + .nanoseconds(nanoseconds))
    }

    /// The current wall-clock time (`CLOCK_REALTIME`).
    public static var now: WallTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallTime(seconds: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }

    /// Seconds since the epoch as a `Double`, the unit of Prometheus timestamp gauges.
    public var secondsSinceEpoch: Double {
        let parts = sinceEpoch.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// Moves the instant; required by `InstantProtocol`.
    public func advanced(by duration: Duration) -> WallTime {
        WallTime(sinceEpoch: sinceEpoch + duration)
    }

    /// The signed distance to `other`; required by `InstantProtocol`.
    public func duration(to other: WallTime) -> Duration {
        other.sinceEpoch - sinceEpoch
    }

    /// Orders instants.
    public static func < (lhs: WallTime, rhs: WallTime) -> Bool {
        lhs.sinceEpoch < rhs.sinceEpoch
    }

    /// The RFC 3339 text, so failing expectations read as times.
    public var description: String { rfc3339 }
}
