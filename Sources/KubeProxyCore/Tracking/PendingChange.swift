/// One object's pending change since the last sync: the version the proxy last saw and the
/// newest one (docs/userspace-behaviour.md#change-collapsing).
///
/// `previous` is fixed by the first event after a sync; later events only move `current`. When
/// the two end up equal (including both `nil`: added then deleted) nothing is pending.
///
/// Each version sits in its own box, allocated only when present: a tracker's dictionary holds
/// a change per object until the next sync, and two `Service`s inline made its storage about
/// 16 MB at 10k Services, alive at the first sync's memory peak (a first load has no
/// `previous`, so it costs one box per object).
public struct PendingChange<Object: Hashable & Sendable>: Hashable, Sendable {
    private indirect enum Box: Hashable, Sendable {
        case object(Object)

        var value: Object {
            switch self {
            case .object(let object): object
            }
        }
    }

    private var previousBox: Box?
    private var currentBox: Box?

    /// The version the last sync saw; `nil` if the object did not exist then.
    public var previous: Object? {
        get { previousBox?.value }
        set { previousBox = newValue.map(Box.object) }
    }

    /// The newest version; `nil` if the object has been deleted.
    public var current: Object? {
        get { currentBox?.value }
        set { currentBox = newValue.map(Box.object) }
    }

    /// Creates a change.
    public init(previous: Object?, current: Object?) {
        previousBox = previous.map(Box.object)
        currentBox = current.map(Box.object)
    }

    /// Whether the change cancels out.
    public var isNoOp: Bool { previous == current }
}
