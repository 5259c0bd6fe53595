/// What a request path addresses.
enum FakeAPIRoute: Sendable, Equatable {
    /// `/healthz`, `/livez`, `/readyz`: served without authentication.
    case health
    /// A discovery document or `/version`, identified by its path.
    case discovery(String)
    /// A collection: all namespaces (`namespace == nil`) or one namespace.
    case collection(FakeAPIResource, namespace: String?)
    /// One named object.
    case object(FakeAPIResource, namespace: String?, name: String)
    /// The fake's own control endpoint (`/fake/faults`): fault injection while it runs.
    case control(String)
    /// Nothing the fake serves.
    case notFound

    /// The path prefix of the control endpoints; never a Kubernetes API path.
    static let controlPrefix = "/fake/"

    /// Routes a path such as `/api/v1/namespaces/default/services/web` or
    /// `/apis/discovery.k8s.io/v1/endpointslices`.
    init(path: String) {
        let segments = path.split(separator: "/").map(String.init)
        switch segments.first {
        case "healthz", "livez", "readyz":
            self = .health
        case "version" where segments.count == 1:
            self = .discovery("/version")
        case "openapi":
            self = .discovery("/" + segments.joined(separator: "/"))
        case "fake":
            self = .control("/" + segments.joined(separator: "/"))
        case "api":
            if segments.count <= 2 {
                self = .discovery("/" + segments.joined(separator: "/"))
            } else {
                self = Self.resource(segments, apiVersion: segments[1], rest: segments.dropFirst(2))
            }
        case "apis":
            if segments.count <= 3 {
                self = .discovery("/" + segments.joined(separator: "/"))
            } else {
                self = Self.resource(segments, apiVersion: "\(segments[1])/\(segments[2])", rest: segments.dropFirst(3))
            }
        default:
            self = .notFound
        }
    }

    private static func resource(_ segments: [String], apiVersion: String, rest: ArraySlice<String>) -> FakeAPIRoute {
        var rest = rest
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3 {
            namespace = rest.dropFirst().first
            rest = rest.dropFirst(2)
        }
        guard let segment = rest.first, let resource = FakeAPIResource.named(segment, apiVersion: apiVersion) else {
            return .notFound
        }
        if namespace != nil && !resource.isNamespaced { return .notFound }
        switch rest.count {
        case 1: return .collection(resource, namespace: namespace)
        case 2: return .object(resource, namespace: namespace, name: rest[rest.startIndex + 1])
        default: return .notFound
        }
    }

    /// Whether the route addresses API objects (injected failures apply only to these, so
    /// discovery keeps working for kubectl).
    var isResource: Bool {
        switch self {
        case .collection, .object: true
        default: false
        }
    }
}
