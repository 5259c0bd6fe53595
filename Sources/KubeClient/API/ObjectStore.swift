/// What one watch has delivered so far, keyed by `namespace/name`, and the minimal changes that
/// move it to a new state.
///
/// Guarantees (the `ObjectChange` contract): per object `added`, then `updated`s, then `deleted`;
/// an event that changes nothing (same object again, a deletion of an unknown object) emits
/// nothing; `updated` and `deleted` carry the last *delivered* state as `old`.
struct ObjectStore<Object: APIObject>: Sendable {
    /// The delivered objects.
    private(set) var objects: [String: Object] = [:]

    /// Creates an empty store.
    init() {}

    /// Replaces the contents with a fresh LIST and returns the difference: additions and
    /// updates in key order, then deletions (objects that vanished while we were not watching)
    /// in key order. Objects whose `resourceVersion` did not change emit nothing.
    mutating func replace(with items: [Object]) -> [ObjectChange<Object>] {
        var fresh: [String: Object] = [:]
        for item in items { fresh[item.storeKey] = item }
        var changes: [ObjectChange<Object>] = []
        for key in fresh.keys.sorted() {
            guard let new = fresh[key] else { continue }
            if let old = objects[key] {
                if !Self.unchanged(old, new) { changes.append(.updated(old: old, new: new)) }
            } else {
                changes.append(.added(new))
            }
        }
        for key in objects.keys.sorted() where fresh[key] == nil {
            if let old = objects[key] { changes.append(.deleted(old)) }
        }
        objects = fresh
        return changes
    }

    /// Applies an `ADDED` or `MODIFIED` event (both mean "this is the object now").
    mutating func upsert(_ object: Object) -> [ObjectChange<Object>] {
        let key = object.storeKey
        guard let old = objects[key] else {
            objects[key] = object
            return [.added(object)]
        }
        objects[key] = object
        return old == object ? [] : [.updated(old: old, new: object)]
    }

    /// Applies a `DELETED` event.
    mutating func delete(_ object: Object) -> [ObjectChange<Object>] {
        guard let old = objects.removeValue(forKey: object.storeKey) else { return [] }
        return [.deleted(old)]
    }

    /// Same version: equal non-empty `resourceVersion`s, or (without versions) equal contents.
    private static func unchanged(_ old: Object, _ new: Object) -> Bool {
        if let oldVersion = old.metadata.resourceVersion, let newVersion = new.metadata.resourceVersion,
            !oldVersion.isEmpty, !newVersion.isEmpty
        {
            return oldVersion == newVersion
        }
        return old == new
    }
}
