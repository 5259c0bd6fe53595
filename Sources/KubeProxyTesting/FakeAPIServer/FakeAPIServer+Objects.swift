import Foundation
import KubeAPI

/// The Swift API tests use to change and read the server's objects. Every change gets the next
/// resourceVersion and is delivered to the open watches that see it, exactly as a change made
/// through HTTP would be.
extension FakeAPIServer {
    /// Creates `object`; the server fills `uid`, `creationTimestamp`, `resourceVersion`, `kind`,
    /// `apiVersion` and, for namespaced kinds without one, namespace `default`.
    ///
    /// - Returns: the stored object.
    /// - Throws: `Status` 409 `AlreadyExists`, 422 without a name.
    @discardableResult
    public func create<T: FakeAPIObject>(_ object: T) throws(Status) -> T {
        try mutate { store throws(Status) in
            try store.create(object, uid: UUID().uuidString.lowercased(), creationTimestamp: Self.timestamp())
        }
    }

    /// Replaces a stored object. With `metadata.resourceVersion` set, it must be the stored one
    /// (else 409 `Conflict`); `nil` updates unconditionally. An update that changes nothing
    /// takes no resourceVersion and produces no event.
    ///
    /// - Returns: the stored object.
    /// - Throws: `Status` 404 `NotFound`, 409 `Conflict`.
    @discardableResult
    public func update<T: FakeAPIObject>(_ object: T) throws(Status) -> T {
        try mutate { store throws(Status) in try store.update(object) }
    }

    /// Creates `object`, or replaces it unconditionally if it exists.
    ///
    /// - Throws: `Status` 422 when the object has no name.
    @discardableResult
    public func apply<T: FakeAPIObject>(_ object: T) throws(Status) -> T {
        var unconditional = object
        unconditional.metadata.resourceVersion = nil
        let key = FakeAPIObjectKey.make(
            namespace: T.fakeAPIResource.isNamespaced ? (object.metadata.namespace ?? "default") : nil, name: object.metadata.name ?? ""
        )
        let exists = state.withLock { $0.store.get(T.fakeAPIResource, key: key) != nil }
        return exists ? try update(unconditional) : try create(unconditional)
    }

    /// Deletes an object; watchers get DELETED with its last state at the deletion's version.
    ///
    /// - Parameter namespace: ignored for cluster-scoped kinds; `nil` means `default` otherwise.
    /// - Returns: the deleted object's last state.
    /// - Throws: `Status` 404 `NotFound`.
    @discardableResult
    public func delete<T: FakeAPIObject>(_ type: T.Type, namespace: String? = nil, name: String) throws(Status) -> T {
        let deleted = try mutate { store throws(Status) in try store.delete(T.fakeAPIResource, namespace: namespace, name: name) }
        guard let typed = deleted as? T else { throw FakeAPIStatus.notFound(T.fakeAPIResource, name: name) }
        return typed
    }

    /// The stored object, or `nil`.
    ///
    /// - Parameter namespace: ignored for cluster-scoped kinds; `nil` means `default` otherwise.
    public func get<T: FakeAPIObject>(_ type: T.Type, namespace: String? = nil, name: String) -> T? {
        let key = FakeAPIObjectKey.make(namespace: T.fakeAPIResource.isNamespaced ? (namespace ?? "default") : nil, name: name)
        return state.withLock { $0.store.get(T.fakeAPIResource, key: key) } as? T
    }

    /// Every stored object of a kind, in one namespace or all (`nil`), sorted by namespace/name.
    public func list<T: FakeAPIObject>(_ type: T.Type, namespace: String? = nil) -> [T] {
        let filter = FakeAPIFilter(resource: T.fakeAPIResource, namespace: namespace)
        return state.withLock { $0.store.objects(matching: filter) }.compactMap { $0 as? T }
    }

    /// The latest resourceVersion (what a LIST now reports), as the decimal string clients see.
    public var resourceVersion: String {
        String(state.withLock { $0.store.resourceVersion })
    }

    /// The oldest resourceVersion a watch or an exact LIST can still start from; anything
    /// older gets 410 Expired.
    public var oldestResourceVersion: String {
        String(state.withLock { $0.store.compactedResourceVersion })
    }

    /// Drops the whole change history, as etcd compaction does: every resourceVersion before
    /// now becomes 410 Expired for watches, exact LISTs and continue tokens. Open watches go on.
    public func compact() {
        state.withLock { $0.store.compact() }
    }

    /// Runs `body` on the store under the lock and delivers the change it made (if any) to the
    /// open watches before releasing the lock, so events are enqueued in version order.
    func mutate<R>(_ body: (inout FakeAPIStore) throws(Status) -> R) throws(Status) -> R {
        try state.withLock { state throws(Status) -> R in
            let before = state.store.resourceVersion
            let result = try body(&state.store)
            if state.store.resourceVersion != before, let change = state.store.history.last {
                Self.fanOut(change, to: state.watches)
            }
            return result
        }
    }
}
