/// A change to one object, as a change tracker consumes it: the previous and current state.
///
/// Shared by every source (manifest files now, the API-server watch later) so the trackers in
/// Core see the same shape whatever the origin.
///
/// `old` identifies the state last delivered; consumers must rely only on its metadata (name,
/// namespace, uid, `resourceVersion`): both sources keep identities rather than objects and
/// hand out a placeholder with metadata only.
///
/// `indirect`: an object is a few hundred bytes inline, and an update holds two; boxed, a
/// batch of 10k events is an array of pointers rather than 6 MB that every copy or growth of
/// the batch duplicates.
public indirect enum ObjectChange<Object: Sendable & Hashable>: Sendable, Hashable {
    /// The object appeared.
    case added(Object)
    /// The object changed; `old` is what was last delivered for it.
    case updated(old: Object, new: Object)
    /// The object disappeared; carries its last delivered state.
    case deleted(Object)

    /// The state before the change (`nil` for an addition).
    public var old: Object? {
        switch self {
        case .added: nil
        case .updated(let old, _): old
        case .deleted(let object): object
        }
    }

    /// The state after the change (`nil` for a deletion).
    public var new: Object? {
        switch self {
        case .added(let object): object
        case .updated(_, let new): new
        case .deleted: nil
        }
    }
}
