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
}
