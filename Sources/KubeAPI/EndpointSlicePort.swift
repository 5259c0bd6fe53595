/// `discovery.k8s.io/v1.EndpointPort`: a port of the endpoints in a slice, matched to the
/// Service port by `name` (and protocol).
///
/// This type is also decoded by hand (`KubeClient/Typed/EndpointSlice+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct EndpointSlicePort: Codable, Sendable, Hashable {
    /// Port name; empty/absent matches the Service's unnamed port.
    public var name: String?
    /// `TCP` (default), `UDP` or `SCTP`.
    public var `protocol`: String?
    /// Port number on the endpoints; `nil` means "all ports" (not proxyable).
    public var port: Int?
    /// Application protocol hint.
    public var appProtocol: String?

    /// Creates a port.
    public init(name: String? = nil, protocol: String? = nil, port: Int? = nil, appProtocol: String? = nil) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.appProtocol = appProtocol
    }
}
