/// One object's pending change since the last sync: the version the proxy last saw and the
/// newest one (docs/userspace-behaviour.md#change-collapsing).
///
/// `previous` is fixed by the first event after a sync; later events only move `current`. When
/// the two end up equal (including both `nil`: added then deleted) nothing is pending.
public struct PendingChange<Object: Hashable & Sendable>: Hashable, Sendable {
    /// The version the last sync saw; `nil` if the object did not exist then.
    public var previous: Object?
    /// The newest version; `nil` if the object has been deleted.
    public var current: Object?

    /// Creates a change.
    public init(previous: Object?, current: Object?) {
        self.previous = previous
        self.current = current
    }

    /// Whether the change cancels out.
    public var isNoOp: Bool { previous == current }
}
