/// One object's pending change since the last sync: the version the proxy last saw and the
/// newest one (docs/userspace-behaviour.md#change-collapsing).
///
/// `previous` is fixed by the first event after a sync; later events only move `current`. When
/// the two end up equal (including both `nil`: added then deleted) nothing is pending.
///
/// Both versions sit behind one pointer: a tracker's dictionary holds a change per object until
/// the next sync, and two `Service`s inline made its storage about 16 MB at 10k Services, alive
/// at the first sync's memory peak.
public struct PendingChange<Object: Hashable & Sendable>: Hashable, Sendable {
    private indirect enum Versions: Hashable, Sendable {
        case versions(previous: Object?, current: Object?)
    }

    private var versions: Versions

    /// The version the last sync saw; `nil` if the object did not exist then.
    public var previous: Object? {
        get {
            switch versions {
            case .versions(let previous, _): previous
            }
        }
        set { versions = .versions(previous: newValue, current: current) }
    }

    /// The newest version; `nil` if the object has been deleted.
    public var current: Object? {
        get {
            switch versions {
            case .versions(_, let current): current
            }
        }
        set { versions = .versions(previous: previous, current: newValue) }
    }

    /// Creates a change.
    public init(previous: Object?, current: Object?) {
        versions = .versions(previous: previous, current: current)
    }

    /// Whether the change cancels out.
    public var isNoOp: Bool { previous == current }
}
