/// `core/v1.ServicePort`: one port of a Service. Named `ServicePortSpec` so it does not clash
/// with Core's model type `ServicePort`, which is what this becomes after translation.
///
/// This type is also decoded by hand (`KubeClient/Typed/Service+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct ServicePortSpec: Codable, Sendable, Hashable {
    /// Port name; required when a Service has more than one port. Matches the EndpointSlice port name.
    public var name: String?
    /// `TCP` (API default), `UDP` or `SCTP`.
    public var `protocol`: String?
    /// Application protocol hint.
    public var appProtocol: String?
    /// The Service port (1–65535).
    public var port: Int?
    /// Port or named port on the endpoints (used by controllers, not by kube-proxy).
    public var targetPort: IntOrString?
    /// Node port for `NodePort` / `LoadBalancer` Services.
    public var nodePort: Int?

    /// Creates a port; every field defaults to absent.
    public init(
        name: String? = nil, protocol: String? = nil, appProtocol: String? = nil, port: Int? = nil,
        targetPort: IntOrString? = nil, nodePort: Int? = nil
    ) {
        self.name = name
        self.protocol = `protocol`
        self.appProtocol = appProtocol
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
    }
}
