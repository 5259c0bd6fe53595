/// The resources the fake API server serves, with what routing, discovery and list envelopes
/// need to know about each.
///
/// Only what kube-proxy reads is served; an unknown resource in a path is a 404, as on a real
/// server without that API.
public enum FakeAPIResource: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `v1` Services (namespaced).
    case services
    /// `discovery.k8s.io/v1` EndpointSlices (namespaced).
    case endpointSlices = "endpointslices"
    /// Legacy `v1` Endpoints (namespaced).
    case endpoints
    /// `v1` Nodes (cluster-scoped).
    case nodes

    /// The API group; empty for the core ("legacy") group served under `/api`.
    public var group: String {
        self == .endpointSlices ? "discovery.k8s.io" : ""
    }

    /// The served version.
    public var version: String { "v1" }

    /// `apiVersion` of objects and lists: `v1` or `group/v1`.
    public var apiVersion: String {
        group.isEmpty ? version : "\(group)/\(version)"
    }

    /// The object kind, e.g. `Service`.
    public var kind: String {
        switch self {
        case .services: "Service"
        case .endpointSlices: "EndpointSlice"
        case .endpoints: "Endpoints"
        case .nodes: "Node"
        }
    }

    /// The list kind, e.g. `ServiceList`.
    public var listKind: String { kind + "List" }

    /// The singular resource name, as discovery reports it.
    public var singularName: String {
        switch self {
        case .services: "service"
        case .endpointSlices: "endpointslice"
        case .endpoints: "endpoints"
        case .nodes: "node"
        }
    }

    /// Whether objects live in namespaces (everything but Nodes).
    public var isNamespaced: Bool { self != .nodes }

    /// kubectl short names, so `kubectl get svc` works against the fake.
    public var shortNames: [String] {
        switch self {
        case .services: ["svc"]
        case .endpointSlices: []
        case .endpoints: ["ep"]
        case .nodes: ["no"]
        }
    }

    /// The path prefix of the group version: `/api/v1` or `/apis/<group>/v1`.
    public var groupVersionPath: String {
        group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
    }

    /// The collection path, across all namespaces or in `namespace`.
    public func collectionPath(namespace: String? = nil) -> String {
        guard isNamespaced, let namespace else { return "\(groupVersionPath)/\(rawValue)" }
        return "\(groupVersionPath)/namespaces/\(namespace)/\(rawValue)"
    }

    /// The resource that `segment` names under the group version `apiVersion`, if served.
    static func named(_ segment: String, apiVersion: String) -> FakeAPIResource? {
        allCases.first { $0.rawValue == segment && $0.apiVersion == apiVersion }
    }

    /// The plural resource name, as it appears in paths.
    public var description: String { rawValue }
}
