import KubeAPI

/// An API object the fake server can store: a KubeAPI value type that knows its resource.
///
/// Tests create and update the same `Service`/`EndpointSlice`/… values the client decodes, so
/// a test reads as "put this object on the server" with no JSON in between.
public protocol FakeAPIObject: Codable, Sendable, Hashable {
    /// The resource this type is stored under.
    static var fakeAPIResource: FakeAPIResource { get }
    /// Name, namespace, labels and the server-managed fields (uid, resourceVersion, …).
    var metadata: ObjectMeta { get set }
    /// Set by the server so every stored object carries its `apiVersion`, as the real one does.
    var apiVersion: String? { get set }
    /// Set by the server so every stored object carries its `kind`.
    var kind: String? { get set }
}

extension FakeAPIObject {
    /// The resource of this value's type (usable on an existential).
    var resource: FakeAPIResource { Self.fakeAPIResource }

    /// The storage key: `namespace/name`, or `name` for cluster-scoped objects; sorted like
    /// etcd keys so lists come out in the same order as from a real server.
    var storageKey: String { FakeAPIObjectKey.make(namespace: metadata.namespace, name: metadata.name ?? "") }

    /// A copy whose `metadata.resourceVersion` is `rv`, for DELETED events that carry the last
    /// state at the deletion's version.
    func withResourceVersion(_ rv: Int) -> Self {
        var copy = self
        copy.metadata.resourceVersion = String(rv)
        return copy
    }
}

/// Builds storage keys; one place so the store and its callers agree.
enum FakeAPIObjectKey {
    /// `namespace/name`, or `name` when there is no namespace.
    static func make(namespace: String?, name: String) -> String {
        guard let namespace, !namespace.isEmpty else { return name }
        return "\(namespace)/\(name)"
    }
}

extension Service: FakeAPIObject {
    /// Services are `services`.
    public static var fakeAPIResource: FakeAPIResource { .services }
}

extension EndpointSlice: FakeAPIObject {
    /// EndpointSlices are `endpointslices` in `discovery.k8s.io`.
    public static var fakeAPIResource: FakeAPIResource { .endpointSlices }
}

extension Endpoints: FakeAPIObject {
    /// Legacy Endpoints are `endpoints`.
    public static var fakeAPIResource: FakeAPIResource { .endpoints }
}

extension Node: FakeAPIObject {
    /// Nodes are cluster-scoped `nodes`.
    public static var fakeAPIResource: FakeAPIResource { .nodes }
}
