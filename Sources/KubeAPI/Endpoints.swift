/// Legacy `core/v1.Endpoints`: the pre-EndpointSlice endpoint list of one Service (same name as
/// the Service). Read only where EndpointSlices are unavailable, and by the manifest source.
public struct Endpoints: Codable, Sendable, Hashable {
    /// `v1`.
    public var apiVersion: String?
    /// `Endpoints`.
    public var kind: String?
    /// Name (equal to the Service's) and namespace.
    public var metadata: ObjectMeta
    /// Groups of addresses sharing a set of ports.
    public var subsets: [EndpointSubset]?

    /// Creates an Endpoints object.
    public init(
        apiVersion: String? = "v1", kind: String? = "Endpoints", metadata: ObjectMeta = ObjectMeta(),
        subsets: [EndpointSubset]? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.subsets = subsets
    }
}

/// `core/v1.EndpointSubset`: every address in it exposes every port in it.
public struct EndpointSubset: Codable, Sendable, Hashable {
    /// Ready addresses.
    public var addresses: [EndpointSubsetAddress]?
    /// Addresses that are not ready.
    public var notReadyAddresses: [EndpointSubsetAddress]?
    /// Ports.
    public var ports: [EndpointSubsetPort]?

    /// Creates a subset.
    public init(
        addresses: [EndpointSubsetAddress]? = nil, notReadyAddresses: [EndpointSubsetAddress]? = nil,
        ports: [EndpointSubsetPort]? = nil
    ) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }
}

/// `core/v1.EndpointAddress`. Named `EndpointSubsetAddress` so it does not clash with Core's
/// `EndpointAddress`.
public struct EndpointSubsetAddress: Codable, Sendable, Hashable {
    /// IP address.
    public var ip: String?
    /// DNS host name.
    public var hostname: String?
    /// Node hosting the address.
    public var nodeName: String?
    /// The Pod behind the address.
    public var targetRef: ObjectReference?

    /// Creates an address.
    public init(
        ip: String? = nil, hostname: String? = nil, nodeName: String? = nil, targetRef: ObjectReference? = nil
    ) {
        self.ip = ip
        self.hostname = hostname
        self.nodeName = nodeName
        self.targetRef = targetRef
    }
}

/// `core/v1.EndpointPort`: a port of a legacy Endpoints subset.
public struct EndpointSubsetPort: Codable, Sendable, Hashable {
    /// Port name, matched to the Service port name.
    public var name: String?
    /// Port number.
    public var port: Int?
    /// `TCP` (default), `UDP` or `SCTP`.
    public var `protocol`: String?
    /// Application protocol hint.
    public var appProtocol: String?

    /// Creates a port.
    public init(name: String? = nil, port: Int? = nil, protocol: String? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }
}
