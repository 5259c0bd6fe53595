import KubeAPI

/// What one watch has delivered so far, keyed by `namespace/name`, and the minimal changes that
/// move it to a new state.
///
/// Guarantees (the `ObjectChange` contract): per object `added`, then `updated`s, then `deleted`;
/// an event that changes nothing (same object again, a deletion of an unknown object) emits
/// nothing.
///
/// Compact: the store keeps, per object, only its identity (name, namespace, uid,
/// `resourceVersion`) and a digest of its contents, not the object. The objects themselves live
/// downstream (Core's trackers convert them and drop them after the sync); holding every decoded
/// Service and EndpointSlice here for relist diffs was about 70 MiB at 10k Services. So `old` in
/// `updated` and `deleted` is a placeholder (``APIObject/placeholder(for:)``) carrying the last
/// delivered identity and version, not its contents: what Core uses of it is the key.
struct ObjectStore<Object: APIObject>: Sendable {
    /// What the store remembers of one delivered object.
    struct Entry: Sendable, Hashable {
        /// `metadata.name`.
        var name: String?
        /// `metadata.namespace`.
        var namespace: String?
        /// `metadata.uid`.
        var uid: String?
        /// `metadata.resourceVersion`.
        var resourceVersion: String?
        /// The contents' hash (per process): decides "unchanged" for objects without versions and
        /// for a watch event that repeats the delivered object.
        var digest: Int

        /// The entry of `object`.
        init(_ object: Object) {
            let metadata = object.metadata
            name = metadata.name
            namespace = metadata.namespace
            uid = metadata.uid
            resourceVersion = metadata.resourceVersion
            digest = object.hashValue
        }

        /// The stand-in for the delivered object in `updated(old:)` and `deleted`.
        var placeholder: Object {
            Object.placeholder(
                for: ObjectMeta(name: name, namespace: namespace, uid: uid, resourceVersion: resourceVersion))
        }
    }

    /// What was delivered, by `namespace/name`.
    private(set) var entries: [String: Entry] = [:]

    /// Creates an empty store.
    init() {}

    /// Replaces the contents with a fresh LIST and returns the difference: additions and
    /// updates in key order, then deletions (objects that vanished while we were not watching)
    /// in key order. Objects whose `resourceVersion` did not change emit nothing.
    mutating func replace(with items: [Object]) -> [ObjectChange<Object>] {
        var fresh: [String: Int] = [:]
        fresh.reserveCapacity(items.count)
        for (index, item) in items.enumerated() { fresh[item.storeKey] = index }
        var next: [String: Entry] = [:]
        next.reserveCapacity(fresh.count)
        var changes: [ObjectChange<Object>] = []
        for key in fresh.keys.sorted() {
            guard let index = fresh[key] else { continue }
            let new = items[index]
            let entry = Entry(new)
            next[key] = entry
            if let old = entries[key] {
                if !Self.unchanged(old, entry) { changes.append(.updated(old: old.placeholder, new: new)) }
            } else {
                changes.append(.added(new))
            }
        }
        for key in entries.keys.sorted() where fresh[key] == nil {
            if let old = entries[key] { changes.append(.deleted(old.placeholder)) }
        }
        entries = next
        return changes
    }

    /// Applies an `ADDED` or `MODIFIED` event (both mean "this is the object now").
    mutating func upsert(_ object: Object) -> [ObjectChange<Object>] {
        let key = object.storeKey
        let entry = Entry(object)
        guard let old = entries.updateValue(entry, forKey: key) else { return [.added(object)] }
        return old == entry ? [] : [.updated(old: old.placeholder, new: object)]
    }

    /// Applies a `DELETED` event.
    mutating func delete(_ object: Object) -> [ObjectChange<Object>] {
        guard let old = entries.removeValue(forKey: object.storeKey) else { return [] }
        return [.deleted(old.placeholder)]
    }

    /// Same version: equal non-empty `resourceVersion`s, or (without versions) equal contents.
    private static func unchanged(_ old: Entry, _ new: Entry) -> Bool {
        if let oldVersion = old.resourceVersion, let newVersion = new.resourceVersion, !oldVersion.isEmpty,
            !newVersion.isEmpty
        {
            return oldVersion == newVersion
        }
        return old.digest == new.digest
    }
}
