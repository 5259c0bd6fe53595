import KubeAPI

/// What an object source (manifest files, later the API server) tells the proxy.
///
/// Per object the sequence is `added`, any number of `updated`, then `deleted`; `synced` comes
/// exactly once, after the initial contents, so the proxy can hold its first sync until it has
/// seen everything and never programs a half-loaded state.
public enum SourceEvent: Sendable, Hashable {
    /// A Service changed.
    case service(ObjectChange<Service>)
    /// An EndpointSlice changed.
    case endpointSlice(ObjectChange<EndpointSlice>)
    /// A legacy Endpoints object changed.
    case endpoints(ObjectChange<Endpoints>)
    /// This proxy's own Node object changed (API sources only; drives node eligibility).
    case node(ObjectChange<Node>)
    /// A ServiceCIDR (a range ClusterIPs are allocated from) changed.
    case serviceCIDR(ObjectChange<ServiceCIDR>)
    /// The initial contents have been delivered in full (sent once).
    case synced

    /// `.added` for `object`, typed by its kind.
    public static func added(_ object: ManifestObject) -> SourceEvent {
        switch object {
        case .service(let value): .service(.added(value))
        case .endpointSlice(let value): .endpointSlice(.added(value))
        case .endpoints(let value): .endpoints(.added(value))
        case .serviceCIDR(let value): .serviceCIDR(.added(value))
        }
    }

    /// `.deleted` for `object`, typed by its kind.
    public static func deleted(_ object: ManifestObject) -> SourceEvent {
        switch object {
        case .service(let value): .service(.deleted(value))
        case .endpointSlice(let value): .endpointSlice(.deleted(value))
        case .endpoints(let value): .endpoints(.deleted(value))
        case .serviceCIDR(let value): .serviceCIDR(.deleted(value))
        }
    }

    /// `.updated` from `old` to `new`; if the kinds differ (never for one key) it degrades to a
    /// deletion of `old` followed by an addition of `new`.
    public static func updated(old: ManifestObject, new: ManifestObject) -> [SourceEvent] {
        switch (old, new) {
        case (.service(let old), .service(let new)): [.service(.updated(old: old, new: new))]
        case (.endpointSlice(let old), .endpointSlice(let new)): [.endpointSlice(.updated(old: old, new: new))]
        case (.endpoints(let old), .endpoints(let new)): [.endpoints(.updated(old: old, new: new))]
        case (.serviceCIDR(let old), .serviceCIDR(let new)): [.serviceCIDR(.updated(old: old, new: new))]
        default: [deleted(old), added(new)]
        }
    }
}
