/// `core/v1.Service`: a stable virtual address (cluster IP, node ports, external and load-balancer
/// IPs) in front of a set of endpoints. The main input of kube-proxy.
///
/// This type is also decoded by hand (`KubeClient/Typed/Service+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct Service: Codable, Sendable, Hashable {
    /// `v1`.
    public var apiVersion: String?
    /// `Service`.
    public var kind: String?
    /// Name, namespace, labels (`service.kubernetes.io/service-proxy-name`, `…/headless`).
    public var metadata: ObjectMeta
    /// The desired behaviour: ports, IPs, type, policies.
    public var spec: ServiceSpec?
    /// Observed state; kube-proxy reads the load-balancer ingress IPs from it.
    public var status: ServiceStatus?

    /// Creates a Service.
    public init(
        apiVersion: String? = "v1", kind: String? = "Service", metadata: ObjectMeta = ObjectMeta(),
        spec: ServiceSpec? = nil, status: ServiceStatus? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}
