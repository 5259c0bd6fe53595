/// One committed change in the store's history: the object before and after, at the global
/// resourceVersion the change got. Watches replay these; exact LISTs roll them back.
///
/// `previous == nil` is a create, `current == nil` a delete, both set an update.
struct FakeAPIChange: Sendable {
    /// The resourceVersion assigned to this change.
    var resourceVersion: Int
    /// The resource changed.
    var resource: FakeAPIResource
    /// The storage key (`namespace/name`).
    var key: String
    /// The stored object after the change; `nil` after a delete.
    var current: (any FakeAPIObject)?
    /// The stored object before the change; `nil` before a create.
    var previous: (any FakeAPIObject)?
}
