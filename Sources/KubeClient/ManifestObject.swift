import KubeAPI

/// One object read from a manifest file: the three kinds the proxy consumes.
///
/// The manifest source works on this sum type so that parsing, validation, duplicate detection
/// and diffing are written once for all kinds; it is split back into typed ``SourceEvent``s only
/// when emitted.
///
/// `indirect`: each object is boxed once, so the copies the source keeps (a file's objects, the
/// merged set, the merge in progress) share it instead of each holding the whole struct inline
/// (about a tenth of the proxy's memory at 10k Services).
public indirect enum ManifestObject: Sendable, Hashable {
    /// A `v1` Service.
    case service(Service)
    /// A `discovery.k8s.io/v1` EndpointSlice.
    case endpointSlice(EndpointSlice)
    /// A legacy `v1` Endpoints object.
    case endpoints(Endpoints)
    /// A `networking.k8s.io/v1` ServiceCIDR (cluster-scoped).
    case serviceCIDR(ServiceCIDR)

    /// The kinds a manifest may define, in the order their additions are emitted (a Service
    /// before the endpoints that refer to it; deletions go the other way).
    public enum Kind: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
        /// `Service`
        case service
        /// `EndpointSlice`
        case endpointSlice
        /// `Endpoints`
        case endpoints
        /// `ServiceCIDR`
        case serviceCIDR

        /// The API `kind` string.
        public var description: String {
            switch self {
            case .service: "Service"
            case .endpointSlice: "EndpointSlice"
            case .endpoints: "Endpoints"
            case .serviceCIDR: "ServiceCIDR"
            }
        }

        /// The only `apiVersion` accepted for the kind (an absent one is accepted too).
        public var apiVersion: String {
            switch self {
            case .endpointSlice: "discovery.k8s.io/v1"
            case .serviceCIDR: "networking.k8s.io/v1"
            case .service, .endpoints: "v1"
            }
        }

        /// The kind for an API `kind` string, or `nil` for kinds we do not read.
        public init?(apiKind: String) {
            guard let kind = Self.allCases.first(where: { $0.description == apiKind }) else { return nil }
            self = kind
        }

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Identity of an object across files and reloads: kind, namespace and name.
    public struct Key: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The object's kind.
        public var kind: Kind
        /// The object's namespace (`default` when the manifest leaves it out).
        public var namespace: String
        /// The object's name.
        public var name: String

        /// Creates a key.
        public init(kind: Kind, namespace: String, name: String) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }

        /// `Kind namespace/name`, as used in error messages.
        public var description: String { "\(kind) \(namespace)/\(name)" }

        /// Orders by kind first (emission order), then namespace and name.
        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.kind.rawValue, lhs.namespace, lhs.name) < (rhs.kind.rawValue, rhs.namespace, rhs.name)
        }
    }

    /// The object's kind.
    public var kind: Kind {
        switch self {
        case .service: .service
        case .endpointSlice: .endpointSlice
        case .endpoints: .endpoints
        case .serviceCIDR: .serviceCIDR
        }
    }

    /// The object's metadata.
    public var metadata: ObjectMeta {
        switch self {
        case .service(let object): object.metadata
        case .endpointSlice(let object): object.metadata
        case .endpoints(let object): object.metadata
        case .serviceCIDR(let object): object.metadata
        }
    }

    /// The object's key; a missing namespace reads as `default` (empty for the cluster-scoped
    /// ServiceCIDR), a missing name as empty (the manifest decoder rejects those before a key
    /// is ever taken).
    public var key: Key {
        Key(kind: kind, namespace: kind == .serviceCIDR ? "" : metadata.namespace ?? "default", name: metadata.name ?? "")
    }
}
