import KubeAPI

/// An object the API client lists and watches: decodable, comparable, and identified by its
/// metadata.
///
/// Why a protocol: the watch state machine, its store and the relist diff are written once for
/// Services, EndpointSlices, legacy Endpoints and Nodes.
protocol APIObject: Codable, Sendable, Hashable {
    /// Name, namespace and `resourceVersion`.
    var metadata: ObjectMeta { get }
}

extension APIObject {
    /// `namespace/name` (`/name` for cluster-scoped objects): the store key.
    var storeKey: String {
        "\(metadata.namespace ?? "")/\(metadata.name ?? "")"
    }
}

extension Service: APIObject {}
extension EndpointSlice: APIObject {}
extension Endpoints: APIObject {}
extension Node: APIObject {}
extension ServiceCIDR: APIObject {}
