/// `discovery.k8s.io/v1.EndpointSlice`: a slice of the endpoints of one Service (named by the
/// `kubernetes.io/service-name` label). kube-proxy merges all slices of a Service.
///
/// This type is also decoded by hand (`KubeClient/Typed/EndpointSlice+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct EndpointSlice: Codable, Sendable, Hashable {
    /// `discovery.k8s.io/v1`.
    public var apiVersion: String?
    /// `EndpointSlice`.
    public var kind: String?
    /// Name, namespace and the `kubernetes.io/service-name` label.
    public var metadata: ObjectMeta
    /// `IPv4`, `IPv6` or `FQDN` (required by the API; optional here so unknown input decodes).
    public var addressType: String?
    /// The endpoints in this slice.
    public var endpoints: [EndpointSliceEndpoint]?
    /// The ports every endpoint of this slice exposes.
    public var ports: [EndpointSlicePort]?

    /// Creates a slice.
    public init(
        apiVersion: String? = "discovery.k8s.io/v1", kind: String? = "EndpointSlice",
        metadata: ObjectMeta = ObjectMeta(), addressType: String? = nil,
        endpoints: [EndpointSliceEndpoint]? = nil, ports: [EndpointSlicePort]? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }
}
