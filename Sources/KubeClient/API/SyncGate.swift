/// Decides when ``APISource`` has delivered its initial contents: Services listed, endpoints
/// (EndpointSlices or legacy Endpoints) listed, and — when a Node is watched — the Node listed
/// or failed once. Answers `true` exactly once.
///
/// Why the Node only needs an attempt: kube-proxy can run without reading its Node (missing
/// RBAC, node not registered yet), and holding every Service back for it would be worse.
struct SyncGate: Sendable {
    /// Whether a Node watch runs at all.
    let watchesNode: Bool
    private var servicesListed = false
    private var nodeAttempted = false
    private var synced = false
    /// The endpoints resource that completed a list (`endpointslices` or `endpoints`).
    private(set) var endpointsResource: WatchResource?

    /// Creates a gate.
    init(watchesNode: Bool) {
        self.watchesNode = watchesNode
    }

    /// Records a watcher message; `true` when this message completes the initial sync.
    mutating func record(_ message: WatcherMessage) -> Bool {
        switch message {
        case .events:
            break
        case .listed(let resource):
            switch resource.path {
            case WatchResource.services.path: servicesListed = true
            case WatchResource.endpointSlices.path, WatchResource.endpoints.path: endpointsResource = resource
            // ServiceCIDRs refine one drop rule; waiting for them (or for a server that has
            // none) must not hold the first sync.
            case WatchResource.serviceCIDRs.path: break
            default: nodeAttempted = true
            }
        case .listFailed(let resource):
            if resource.path == "/api/v1/nodes" { nodeAttempted = true }
        }
        guard !synced, servicesListed, endpointsResource != nil, nodeAttempted || !watchesNode else { return false }
        synced = true
        return true
    }
}
