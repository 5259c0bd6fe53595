import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

/// The facts advanced by each sync's delta must equal the facts computed from scratch, since
/// the sync loop now only ever advances them.
@Suite struct LocalEndpointFactsTests {
    static let node = "node-1"
    static let web = ServicePortName(namespace: "default", name: "web", port: "http")
    static let webTLS = ServicePortName(namespace: "default", name: "web", port: "https")
    static let db = ServicePortName(namespace: "default", name: "db", port: "sql")
    static let plain = ServicePortName(namespace: "default", name: "plain", port: "http")

    static func port(_ name: ServicePortName, internalLocal: Bool = false, externalLocal: Bool = false) -> ServicePort {
        ServicePort(
            name: name, clusterIP: .v4(0x0A60_0001), port: 80, nodePort: externalLocal ? 30080 : 0,
            externalTrafficPolicy: externalLocal ? .local : .cluster, internalTrafficPolicy: internalLocal ? .local : .cluster,
            healthCheckNodePort: externalLocal ? 31000 : 0)
    }

    static func endpoint(_ last: UInt32, node: String?, ready: Bool = true) -> Endpoint {
        Endpoint(ip: .v4(0x0AF4_0000 + last), port: 8080, ready: ready, nodeName: node)
    }

    /// Each step: the snapshot after it and the delta that led there.
    static let steps: [(ProxySnapshot, SyncDelta)] = {
        var delta1 = SyncDelta()
        delta1.addedServicePorts = [web, webTLS, db, plain]
        let s1 = ProxySnapshot(
            family: .ipv4,
            servicePorts: [
                web: port(web, externalLocal: true), webTLS: port(webTLS, externalLocal: true),
                db: port(db, internalLocal: true), plain: port(plain),
            ],
            endpoints: [
                web: [endpoint(1, node: node), endpoint(2, node: "other")],
                webTLS: [endpoint(1, node: node), endpoint(3, node: node, ready: false)],
                plain: [endpoint(9, node: "other")],
            ])
        // web's local endpoint goes away; db gets a local one.
        var delta2 = SyncDelta()
        delta2.endpointsChanged = [web, db]
        var endpoints2 = s1.endpoints
        endpoints2[web] = [endpoint(2, node: "other")]
        endpoints2[db] = [endpoint(5, node: node)]
        let s2 = ProxySnapshot(family: .ipv4, servicePorts: s1.servicePorts, endpoints: endpoints2)
        // webTLS is removed, plain becomes internal-local.
        var delta3 = SyncDelta()
        delta3.removedServicePorts = [webTLS: port(webTLS, externalLocal: true)]
        delta3.changedServicePorts = [plain]
        var ports3 = s2.servicePorts
        ports3[webTLS] = nil
        ports3[plain] = port(plain, internalLocal: true)
        let s3 = ProxySnapshot(family: .ipv4, servicePorts: ports3, endpoints: endpoints2)
        return [(s1, delta1), (s2, delta2), (s3, delta3)]
    }()

    @Test func advancingByDeltasEqualsComputingFromScratch() {
        var facts = LocalEndpointFacts()
        for (snapshot, delta) in Self.steps {
            facts.update(snapshot: snapshot, delta: delta, nodeName: Self.node)
            #expect(facts == LocalEndpointFacts(snapshot: snapshot, nodeName: Self.node))
        }
    }

    @Test func countsLocalEndpointsPerServiceAcrossItsPorts() {
        var facts = LocalEndpointFacts()
        let (s1, d1) = Self.steps[0]
        facts.update(snapshot: s1, delta: d1, nodeName: Self.node)
        // web: 10.244.0.1 is local and ready on both ports (counted once); .3 is not ready.
        #expect(facts.healthChecks[Self.web.service]?.port == 31000)
        #expect(facts.healthChecks[Self.web.service]?.localEndpoints == 1)
        #expect(facts.internalWithoutLocal == 1, "db has no endpoints")
        #expect(facts.externalWithoutLocal == 0)

        let (s2, d2) = Self.steps[1]
        facts.update(snapshot: s2, delta: d2, nodeName: Self.node)
        #expect(facts.healthChecks[Self.web.service]?.localEndpoints == 1, "webTLS still has it")
        #expect(facts.externalWithoutLocal == 1)
        #expect(facts.internalWithoutLocal == 0)

        let (s3, d3) = Self.steps[2]
        facts.update(snapshot: s3, delta: d3, nodeName: Self.node)
        #expect(facts.healthChecks[Self.web.service]?.localEndpoints == 0)
        #expect(facts.internalWithoutLocal == 1, "plain has no local endpoint")
    }
}
