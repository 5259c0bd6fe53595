import KubeAPI

/// The fake server's state as a value: objects per resource, one global resourceVersion counter
/// and a bounded history of changes.
///
/// Invariants, as on a real etcd-backed server:
/// - every create, effective update and delete takes the next resourceVersion, across all
///   resources, so versions are strictly increasing and comparable between resources;
/// - `history` holds every change with a version greater than `compactedResourceVersion`, so
///   a watch or an exact LIST from any version at or after it can be served; anything older is
///   410 Expired;
/// - an update that changes nothing is not a change (no new version, no event), as etcd skips
///   writing identical bytes.
///
/// Like kube-apiserver's watch cache, every stored object keeps its JSON, encoded once by the
/// commit that stored it, and each resource keeps its keys sorted: a LIST page is a binary search
/// and a concatenation of bytes, not a sort and an encode of every object per page (which made
/// the fake the largest CPU user of a 10k-Service start-up). The bytes live in the same slot as
/// the object, and only `commit` and `delete` write slots, so they cannot go stale.
///
/// Pure: uid and timestamps are passed in; the server wraps it in a lock.
struct FakeAPIStore: Sendable {
    /// The latest resourceVersion handed out (the version a LIST reports).
    private(set) var resourceVersion: Int
    /// The oldest version a watch may start from; changes after it are all in `history`.
    private(set) var compactedResourceVersion: Int
    /// How many changes `history` keeps before the oldest are compacted away.
    let historyLimit: Int
    /// Changes after `compactedResourceVersion`, oldest first.
    private(set) var history: [FakeAPIChange] = []
    /// The current objects per resource and storage key, each with its encoded JSON.
    private(set) var objects: [FakeAPIResource: [String: FakeAPIStoredObject]] = [:]
    /// The keys of `objects` per resource in ascending order (the LIST order).
    private(set) var sortedKeys: [FakeAPIResource: [String]] = [:]

    /// An empty store whose first change gets `initialResourceVersion + 1`.
    init(initialResourceVersion: Int, historyLimit: Int) {
        resourceVersion = initialResourceVersion
        compactedResourceVersion = initialResourceVersion
        self.historyLimit = max(1, historyLimit)
    }

    /// The stored object at `key`, if any.
    func get(_ resource: FakeAPIResource, key: String) -> (any FakeAPIObject)? {
        objects[resource]?[key]?.object
    }

    /// The current objects `filter` sees, sorted by storage key.
    func objects(matching filter: FakeAPIFilter) -> [any FakeAPIObject] {
        let stored = objects[filter.resource] ?? [:]
        return (sortedKeys[filter.resource] ?? []).compactMap { stored[$0]?.object }.filter(filter.matches)
    }

    /// Stores a new object, filling `uid`, `creationTimestamp`, `resourceVersion`, `kind` and
    /// `apiVersion`; a namespaced object without a namespace goes to `default`.
    ///
    /// - Throws: 409 `AlreadyExists`, or 422 when the object has no name.
    mutating func create<T: FakeAPIObject>(_ object: T, uid: String, creationTimestamp: String) throws(Status) -> T {
        var stored = normalized(object)
        let key = stored.storageKey
        guard let name = stored.metadata.name, !name.isEmpty else {
            throw FakeAPIStatus.invalid("\(T.fakeAPIResource.kind) \"\": metadata.name: Required value: name is required")
        }
        guard get(T.fakeAPIResource, key: key) == nil else { throw FakeAPIStatus.alreadyExists(T.fakeAPIResource, name: name) }
        stored.metadata.uid = uid
        stored.metadata.creationTimestamp = creationTimestamp
        commit(&stored, key: key, previous: nil)
        return stored
    }

    /// Replaces a stored object, keeping its uid and creationTimestamp. A `resourceVersion` on
    /// the given object must equal the stored one (optimistic concurrency); `nil` means
    /// "unconditionally". An update that changes nothing returns the stored object unchanged.
    ///
    /// - Throws: 404 `NotFound`, 409 `Conflict`.
    mutating func update<T: FakeAPIObject>(_ object: T) throws(Status) -> T {
        var stored = normalized(object)
        let key = stored.storageKey
        let name = stored.metadata.name ?? ""
        guard let existing = get(T.fakeAPIResource, key: key) as? T else { throw FakeAPIStatus.notFound(T.fakeAPIResource, name: name) }
        if let requested = object.metadata.resourceVersion, requested != existing.metadata.resourceVersion {
            throw FakeAPIStatus.conflict(T.fakeAPIResource, name: name)
        }
        stored.metadata.uid = existing.metadata.uid
        stored.metadata.creationTimestamp = existing.metadata.creationTimestamp
        stored.metadata.generation = existing.metadata.generation
        stored.metadata.resourceVersion = existing.metadata.resourceVersion
        if stored == existing { return existing }
        commit(&stored, key: key, previous: existing)
        return stored
    }

    /// Removes a stored object; returns its last state carrying the deletion's resourceVersion
    /// (what a DELETED event carries).
    ///
    /// - Throws: 404 `NotFound`.
    mutating func delete(_ resource: FakeAPIResource, namespace: String?, name: String) throws(Status) -> any FakeAPIObject {
        let key = FakeAPIObjectKey.make(namespace: resource.isNamespaced ? (namespace ?? "default") : nil, name: name)
        guard let existing = get(resource, key: key) else { throw FakeAPIStatus.notFound(resource, name: name) }
        resourceVersion += 1
        objects[resource]?[key] = nil
        if let index = sortedKeys[resource]?.firstIndex(atOrAfter: key), sortedKeys[resource]?[index] == key {
            sortedKeys[resource]?.remove(at: index)
        }
        record(FakeAPIChange(resourceVersion: resourceVersion, resource: resource, key: key, current: nil, previous: existing))
        return existing.withResourceVersion(resourceVersion)
    }

    /// Drops the whole history: every version before now becomes 410 Expired.
    mutating func compact() {
        history.removeAll()
        compactedResourceVersion = resourceVersion
    }

    /// The changes to `resource` after `version`, oldest first.
    ///
    /// - Throws: 410 `Expired` when `version` is older than the history window.
    func changes(to resource: FakeAPIResource, after version: Int) throws(Status) -> [FakeAPIChange] {
        guard version >= compactedResourceVersion else {
            throw FakeAPIStatus.tooOldResourceVersion(requested: version, oldest: compactedResourceVersion)
        }
        return history.filter { $0.resource == resource && $0.resourceVersion > version }
    }

    /// What rolling `resource` back to `version` (which must be inside the window) changes: each
    /// key written after `version`, mapped to its object at `version` (`nil`: absent then).
    /// Empty for a read at the current version, the common case, found without walking the
    /// history since it is ordered by version.
    func rollback(of resource: FakeAPIResource, to version: Int) -> [String: (any FakeAPIObject)?] {
        var earlier: [String: (any FakeAPIObject)?] = [:]
        for change in history.reversed() {
            guard change.resourceVersion > version else { break }
            // Walking backwards, the last write is the oldest change, whose `previous` is the
            // state at `version`; `updateValue` keeps a `nil` previous (a create) as a value.
            if change.resource == resource { earlier.updateValue(change.previous, forKey: change.key) }
        }
        return earlier
    }

    private func normalized<T: FakeAPIObject>(_ object: T) -> T {
        var copy = object
        copy.apiVersion = T.fakeAPIResource.apiVersion
        copy.kind = T.fakeAPIResource.kind
        if T.fakeAPIResource.isNamespaced {
            if copy.metadata.namespace?.isEmpty ?? true { copy.metadata.namespace = "default" }
        } else {
            copy.metadata.namespace = nil
        }
        return copy
    }

    private mutating func commit<T: FakeAPIObject>(_ object: inout T, key: String, previous: (any FakeAPIObject)?) {
        resourceVersion += 1
        object.metadata.resourceVersion = String(resourceVersion)
        objects[T.fakeAPIResource, default: [:]][key] = FakeAPIStoredObject(object)
        if previous == nil {
            let index = sortedKeys[T.fakeAPIResource]?.firstIndex(atOrAfter: key) ?? 0
            sortedKeys[T.fakeAPIResource, default: []].insert(key, at: index)
        }
        record(FakeAPIChange(resourceVersion: resourceVersion, resource: T.fakeAPIResource, key: key, current: object, previous: previous))
    }

    private mutating func record(_ change: FakeAPIChange) {
        history.append(change)
        if history.count > historyLimit {
            let dropped = history.count - historyLimit
            compactedResourceVersion = history[dropped - 1].resourceVersion
            history.removeFirst(dropped)
        }
    }
}

/// A stored object and its JSON, as the watch cache keeps both: the bytes are encoded when the
/// object is stored, so every later LIST reuses them.
struct FakeAPIStoredObject: Sendable {
    /// The object.
    let object: any FakeAPIObject
    /// `object` encoded as the API serves it.
    let json: [UInt8]

    /// Stores `object` with its encoding.
    init(_ object: any FakeAPIObject) {
        self.object = object
        self.json = FakeAPIJSON.encode(object)
    }
}

extension Array where Element == String {
    /// The index of the first element not less than `key`, in a sorted array (binary search).
    func firstIndex(atOrAfter key: String) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
