import KubeProxyCore

/// Renders snapshots one after another, re-rendering only the service ports whose Service or
/// endpoints changed.
///
/// Why: rendering 100,000 endpoint chains — names, rule text and digests — on every sync would
/// cost far more than the transaction. Told which ports changed (the sync delta), a render
/// touches only those; without that list it compares every port's inputs by value, so it can
/// never serve objects for a changed port. The renderer's options are fixed per cache.
public struct NFTRenderCache: Sendable {
    /// The renderer (its options apply to every cached entry).
    public let renderer: NFTRenderer
    private var entries: [ServicePortName: Entry] = [:]
    /// The service-port objects of the last render (kept so a partial render edits it in place).
    private var rendered: [ServicePortName: NFTServicePortObjects] = [:]
    private var primed = false

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
    ///
    /// - Parameter changed: the service ports whose Service or endpoints may differ from the
    ///   previous call; only these are looked at (O(changes)). `nil` compares every port.
    public mutating func render(_ snapshot: ProxySnapshot, changed: Set<ServicePortName>? = nil) -> NFTRuleset {
        var ruleset = renderer.skeleton()
        if let changed, primed {
            for name in changed { update(name, in: snapshot) }
        } else {
            var next: [ServicePortName: Entry] = [:]
            next.reserveCapacity(snapshot.servicePorts.count)
            swap(&next, &entries)
            rendered = [:]
            rendered.reserveCapacity(snapshot.servicePorts.count)
            for (name, port) in snapshot.servicePorts {
                let endpoints = snapshot.endpoints(for: name)
                let entry: Entry
                if let old = next[name], old.port == port, old.endpoints == endpoints {
                    entry = old
                } else {
                    entry = Entry(port: port, endpoints: endpoints, objects: renderer.render(port, endpoints: endpoints))
                }
                entries[name] = entry
                rendered[name] = entry.objects
            }
            primed = true
        }
        ruleset.servicePorts = rendered
        return ruleset
    }

    /// Brings one service port's entry in line with the snapshot.
    private mutating func update(_ name: ServicePortName, in snapshot: ProxySnapshot) {
        guard let port = snapshot.servicePorts[name] else {
            entries[name] = nil
            rendered[name] = nil
            return
        }
        let endpoints = snapshot.endpoints(for: name)
        if let entry = entries[name], entry.port == port, entry.endpoints == endpoints { return }
        let objects = renderer.render(port, endpoints: endpoints)
        entries[name] = Entry(port: port, endpoints: endpoints, objects: objects)
        rendered[name] = objects
    }
}
