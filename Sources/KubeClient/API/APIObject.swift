import KubeAPI

/// An object the API client lists and watches: decodable, comparable, and identified by its
/// metadata.
///
/// Why a protocol: the watch state machine, its store and the relist diff are written once for
/// Services, EndpointSlices, legacy Endpoints and Nodes.
protocol APIObject: Codable, Sendable, Hashable {
    /// Name, namespace and `resourceVersion`.
    var metadata: ObjectMeta { get }

    /// An object of this kind with only `metadata`: what ``ObjectStore`` hands out as the `old`
    /// state of an update or deletion, since it keeps identities rather than objects.
    static func placeholder(for metadata: ObjectMeta) -> Self

    /// The same object with its lists in storage of their exact size. `JSONDecoder` grows
    /// arrays by doubling, so the ten endpoints of a slice sat in room for sixteen (about 12 MB
    /// at 10k slices, for as long as Core keeps the object's pending change).
    func compacted() -> Self
}

extension APIObject {
    /// `namespace/name` (`/name` for cluster-scoped objects): the store key.
    var storeKey: String {
        "\(metadata.namespace ?? "")/\(metadata.name ?? "")"
    }

    /// Objects without long lists stay as decoded.
    func compacted() -> Self { self }
}

extension Service: APIObject {
    static func placeholder(for metadata: ObjectMeta) -> Service { Service(metadata: metadata) }
}

extension EndpointSlice: APIObject {
    static func placeholder(for metadata: ObjectMeta) -> EndpointSlice { EndpointSlice(metadata: metadata) }

    func compacted() -> EndpointSlice {
        var copy = self
        copy.endpoints = endpoints?.exactCapacity()
        copy.ports = ports?.exactCapacity()
        return copy
    }
}

extension Endpoints: APIObject {
    static func placeholder(for metadata: ObjectMeta) -> Endpoints { Endpoints(metadata: metadata) }

    func compacted() -> Endpoints {
        var copy = self
        copy.subsets = subsets?.map { subset in
            var subset = subset
            subset.addresses = subset.addresses?.exactCapacity()
            subset.notReadyAddresses = subset.notReadyAddresses?.exactCapacity()
            subset.ports = subset.ports?.exactCapacity()
            return subset
        }
        return copy
    }
}

extension Node: APIObject {
    static func placeholder(for metadata: ObjectMeta) -> Node { Node(metadata: metadata) }
}

extension ServiceCIDR: APIObject {
    static func placeholder(for metadata: ObjectMeta) -> ServiceCIDR { ServiceCIDR(metadata: metadata) }
}

extension Array {
    /// This array, or a copy of it in storage of exactly its size when it has spare room.
    func exactCapacity() -> [Element] {
        guard capacity > count else { return self }
        var copy: [Element] = []
        copy.reserveCapacity(count)
        copy.append(contentsOf: self)
        return copy
    }
}
