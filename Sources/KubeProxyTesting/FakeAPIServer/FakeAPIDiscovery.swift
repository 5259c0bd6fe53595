import KubeAPI

/// The discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/discovery.k8s.io[/v1]`) and
/// `/version`, in the legacy (unaggregated) JSON form, and the OpenAPI v3 documents
/// (``FakeAPIOpenAPI``). kubectl asks for aggregated discovery
/// first and falls back to these when the server answers plain `application/json`.
enum FakeAPIDiscovery {
    /// The version the fake claims to be; within kubectl's supported skew.
    static let gitVersion = "v1.33.0"

    /// The document served at `path`, or `nil` if there is none.
    static func document(at path: String, serverAddress: String) -> JSONValue? {
        if path.hasPrefix("/openapi/") { return FakeAPIOpenAPI.document(at: path) }
        switch path {
        case "/api":
            return .object([
                "kind": .string("APIVersions"), "versions": .array([.string("v1")]),
                "serverAddressByClientCIDRs": .array([
                    .object(["clientCIDR": .string("0.0.0.0/0"), "serverAddress": .string(serverAddress)])
                ]),
            ])
        case "/apis":
            return .object(["kind": .string("APIGroupList"), "apiVersion": .string("v1"), "groups": .array([discoveryGroup])])
        case "/apis/discovery.k8s.io":
            var group = discoveryGroup
            if case .object(var members) = group {
                members["kind"] = .string("APIGroup")
                members["apiVersion"] = .string("v1")
                group = .object(members)
            }
            return group
        case "/api/v1":
            return resourceList(groupVersion: "v1")
        case "/apis/discovery.k8s.io/v1":
            return resourceList(groupVersion: "discovery.k8s.io/v1")
        case "/version":
            return .object([
                "major": .string("1"), "minor": .string("33"), "gitVersion": .string(gitVersion), "gitCommit": .string("fake"),
                "gitTreeState": .string("clean"), "buildDate": .string("2026-01-01T00:00:00Z"), "goVersion": .string("go1.24.0"),
                "compiler": .string("gc"), "platform": .string("linux/amd64"),
            ])
        default:
            return nil
        }
    }

    private static var discoveryGroup: JSONValue {
        let version: JSONValue = .object(["groupVersion": .string("discovery.k8s.io/v1"), "version": .string("v1")])
        return .object(["name": .string("discovery.k8s.io"), "versions": .array([version]), "preferredVersion": version])
    }

    private static func resourceList(groupVersion: String) -> JSONValue {
        let verbs: JSONValue = .array(["create", "delete", "get", "list", "patch", "update", "watch"].map(JSONValue.string))
        let resources = FakeAPIResource.allCases.filter { $0.apiVersion == groupVersion }.map { resource -> JSONValue in
            .object([
                "name": .string(resource.rawValue), "singularName": .string(resource.singularName),
                "namespaced": .bool(resource.isNamespaced), "kind": .string(resource.kind), "verbs": verbs,
                "shortNames": .array(resource.shortNames.map(JSONValue.string)),
            ])
        }
        return .object([
            "kind": .string("APIResourceList"), "apiVersion": .string("v1"), "groupVersion": .string(groupVersion),
            "resources": .array(resources),
        ])
    }
}
