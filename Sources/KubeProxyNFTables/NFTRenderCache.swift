import KubeProxyCore

/// Renders snapshots one after another, re-rendering only the service ports whose Service or
/// endpoints differ from the previous render.
///
/// Why: a partial sync must still know every service port's objects (elements are diffed over
/// the whole table), but rendering 100,000 endpoint chains — a SHA-256 each, plus rule text — on
/// every sync would cost far more than the transaction. The cache compares inputs by value, so
/// it can never serve objects for a changed port; the renderer's options are fixed per cache.
public struct NFTRenderCache: Sendable {
    /// The renderer (its options apply to every cached entry).
    public let renderer: NFTRenderer
    private var entries: [ServicePortName: Entry] = [:]

    /// One service port's inputs and what they rendered to.
    struct Entry: Sendable {
        var port: ServicePort
        var endpoints: [Endpoint]
        var objects: NFTServicePortObjects
    }

    /// Creates an empty cache.
    public init(renderer: NFTRenderer) { self.renderer = renderer }

    /// How many service ports are cached.
    public var count: Int { entries.count }

    /// The same ruleset as `renderer.render(snapshot)`, reusing unchanged service ports.
    public mutating func render(_ snapshot: ProxySnapshot) -> NFTRuleset {
        var ruleset = renderer.skeleton()
        var next: [ServicePortName: Entry] = [:]
        next.reserveCapacity(snapshot.servicePorts.count)
        ruleset.servicePorts = snapshot.sortedServicePorts.map { port in
            let endpoints = snapshot.endpoints(for: port.name)
            if let entry = entries[port.name], entry.port == port, entry.endpoints == endpoints {
                next[port.name] = entry
                return entry.objects
            }
            let objects = renderer.render(port, endpoints: endpoints)
            next[port.name] = Entry(port: port, endpoints: endpoints, objects: objects)
            return objects
        }
        entries = next
        return ruleset
    }
}
