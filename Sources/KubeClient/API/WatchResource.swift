import KubeAPI

/// One collection the API client lists and watches: where it lives and which objects of it
/// this proxy reads.
///
/// The selectors are upstream kube-proxy's: Services, EndpointSlices and legacy Endpoints are
/// all fetched with `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless`
/// (objects of alternative proxies and of headless Services are not ours), and the Node with a
/// field selector on its name. The filters are applied by the server, so relabelling shows up as
/// a deletion or an addition in the watch.
struct WatchResource: Sendable, Hashable, CustomStringConvertible {
    /// Short name for logs: `services`, `endpointslices`, `endpoints`, `nodes`, `servicecidrs`.
    var name: String
    /// The collection path, e.g. `/api/v1/services`.
    var path: String
    /// Server-side label selector, if any.
    var labelSelector: String?
    /// Server-side field selector, if any.
    var fieldSelector: String?

    /// Upstream kube-proxy's label selector for Services, EndpointSlices and Endpoints.
    static let proxyLabelSelector = "!\(WellKnownLabels.serviceProxyName),!\(WellKnownLabels.headless)"

    /// All Services (every namespace) this proxy handles.
    static let services = WatchResource(
        name: "services", path: "/api/v1/services", labelSelector: proxyLabelSelector)
    /// All EndpointSlices (`discovery.k8s.io/v1`) this proxy handles.
    static let endpointSlices = WatchResource(
        name: "endpointslices", path: "/apis/discovery.k8s.io/v1/endpointslices", labelSelector: proxyLabelSelector)
    /// All legacy Endpoints, for clusters without `discovery.k8s.io/v1` or when asked to.
    static let endpoints = WatchResource(
        name: "endpoints", path: "/api/v1/endpoints", labelSelector: proxyLabelSelector)

    /// Every ServiceCIDR (`networking.k8s.io/v1`, cluster-scoped): the ranges ClusterIPs come
    /// from, for nftables mode's drop rule.
    static let serviceCIDRs = WatchResource(
        name: "servicecidrs", path: "/apis/networking.k8s.io/v1/servicecidrs")

    /// This proxy's own Node.
    static func node(_ nodeName: String) -> WatchResource {
        WatchResource(name: "nodes", path: "/api/v1/nodes", fieldSelector: "metadata.name=\(nodeName)")
    }

    var description: String { name }

    /// A LIST: the first page (with `resourceVersion` when given, and `limit` when paging) or a
    /// continued page (`limit` and `continue`, never `resourceVersion`, as the server requires).
    func listRequest(resourceVersion: String?, limit: Int?, continue token: String? = nil) -> APIRequest {
        var query = selectors
        if let token {
            if let limit { query.append(("limit", "\(limit)")) }
            query.append(("continue", token))
        } else {
            if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
            if let limit { query.append(("limit", "\(limit)")) }
        }
        return APIRequest(path: path, query: query)
    }

    /// A WATCH from `resourceVersion` (omitted when unknown), with bookmarks and a server-side
    /// timeout.
    func watchRequest(resourceVersion: String?, timeoutSeconds: Int) -> APIRequest {
        var query = selectors
        query.append(("watch", "true"))
        if let resourceVersion, !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        query.append(("allowWatchBookmarks", "true"))
        query.append(("timeoutSeconds", "\(timeoutSeconds)"))
        return APIRequest(path: path, query: query)
    }

    private var selectors: [(String, String)] {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        return query
    }
}
