import KubeProxyCore
import KubeProxyNFTables
import Testing

@Suite struct NFTRenderCacheTests {
    /// Through a sequence of edits the cache renders exactly what a fresh render gives.
    @Test func cachedRenderEqualsFreshRender() {
        let renderer = NFTRenderer(options: Fixture.options())
        var cache = NFTRenderCache(renderer: renderer)
        var snapshot = Fixture.sixServices()
        #expect(cache.render(snapshot) == renderer.render(snapshot))

        var ports = snapshot.servicePorts
        var endpoints = snapshot.endpoints
        let svc1 = Fixture.name("ns1", "svc1"), svc4 = Fixture.name("ns4", "svc4"), svc6 = Fixture.name("ns6", "svc6")
        endpoints[svc1] = [Fixture.endpoint("10.180.0.9")]
        ports[svc4]?.internalTrafficPolicy = .local
        ports[svc6] = nil
        snapshot = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
        #expect(cache.render(snapshot) == renderer.render(snapshot))
        #expect(cache.count == 5)
        #expect(cache.render(snapshot) == renderer.render(snapshot))
    }

    /// Told which ports changed, the cache re-renders only those and still matches a fresh
    /// render; a port it was not told about keeps its old objects (the delta is trusted).
    @Test func renderOfChangedPortsEqualsFreshRender() {
        let renderer = NFTRenderer(options: Fixture.options())
        var cache = NFTRenderCache(renderer: renderer)
        var snapshot = Fixture.sixServices()
        _ = cache.render(snapshot, changed: [])
        var ports = snapshot.servicePorts
        var endpoints = snapshot.endpoints
        let svc1 = Fixture.name("ns1", "svc1"), svc6 = Fixture.name("ns6", "svc6"), svc7 = Fixture.name("ns7", "svc7")
        endpoints[svc1] = [Fixture.endpoint("10.180.0.9")]
        ports[svc6] = nil
        ports[svc7] = ServicePort(name: svc7, clusterIP: Fixture.ip("172.30.0.47"), port: 80)
        snapshot = ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints)
        #expect(cache.render(snapshot, changed: [svc1, svc6, svc7]) == renderer.render(snapshot))
        #expect(cache.count == 6)

        let before = cache.render(snapshot, changed: [])
        endpoints[svc1] = [Fixture.endpoint("10.180.0.10")]
        let unannounced = cache.render(ProxySnapshot(family: .ipv4, servicePorts: ports, endpoints: endpoints), changed: [])
        #expect(unannounced.servicePorts[svc1] == before.servicePorts[svc1])
    }
}
