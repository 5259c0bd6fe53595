import KubeProxyCore
import Testing

@Suite("ConntrackCleanup")
struct ConntrackCleanupTests {
    let dns = ServicePortName(namespace: "kube-system", name: "dns", port: "dns", protocol: .udp)
    let web = ServicePortName(namespace: "default", name: "web", port: "http", protocol: .tcp)

    func port(_ name: ServicePortName, nodePort: Int = 0, externalIPs: [String] = []) -> ServicePort {
        ServicePort(
            name: name, clusterIP: IPAddress("10.96.0.10")!, port: 53, nodePort: nodePort,
            externalIPs: externalIPs.map { IPAddress($0)! })
    }

    func endpoint(_ ip: String, serving: Bool = true) -> Endpoint {
        Endpoint(ip: IPAddress(ip)!, port: 5353, ready: serving, serving: serving, terminating: !serving)
    }

    func snapshot(_ ports: [ServicePort], _ endpoints: [ServicePortName: [Endpoint]]) -> ProxySnapshot {
        ProxySnapshot(
            family: .ipv4, servicePorts: Dictionary(uniqueKeysWithValues: ports.map { ($0.name, $0) }), endpoints: endpoints)
    }

    func filter(_ destination: String?, _ port: Int, _ reply: String?) -> ConntrackCleanup.Filter {
        ConntrackCleanup.Filter(
            family: .ipv4, destination: destination.flatMap { IPAddress($0) }, destinationPort: port,
            replySource: reply.flatMap { IPAddress($0) })
    }

    @Test func aRemovedEndpointLosesItsFlowsAtEveryFrontend() {
        let svc = port(dns, nodePort: 30053, externalIPs: ["192.168.99.1"])
        let before = snapshot([svc], [dns: [endpoint("10.0.0.1"), endpoint("10.0.0.2")]])
        let after = snapshot([svc], [dns: [endpoint("10.0.0.2")]])
        var delta = SyncDelta()
        delta.endpointsChanged = [dns]
        #expect(
            ConntrackCleanup.filters(previous: before, current: after, delta: delta)
                == [
                    filter(nil, 30053, "10.0.0.1"), filter("10.96.0.10", 53, "10.0.0.1"), filter("192.168.99.1", 53, "10.0.0.1"),
                ].sorted())
    }

    @Test func anEndpointThatStopsServingCountsAsGone() {
        let svc = port(dns)
        let before = snapshot([svc], [dns: [endpoint("10.0.0.1"), endpoint("10.0.0.2")]])
        let after = snapshot([svc], [dns: [endpoint("10.0.0.1", serving: false), endpoint("10.0.0.2")]])
        var delta = SyncDelta()
        delta.endpointsChanged = [dns]
        #expect(
            ConntrackCleanup.filters(previous: before, current: after, delta: delta) == [filter("10.96.0.10", 53, "10.0.0.1")])
    }

    @Test func theFirstEndpointClearsEveryFlowToTheService() {
        let svc = port(dns)
        var delta = SyncDelta()
        delta.endpointsChanged = [dns]
        let filters = ConntrackCleanup.filters(
            previous: snapshot([svc], [:]), current: snapshot([svc], [dns: [endpoint("10.0.0.1")]]), delta: delta)
        #expect(filters == [filter("10.96.0.10", 53, nil)])
    }

    @Test func noServingEndpointAndTCPAndUntouchedPortsAreLeftAlone() {
        let udp = port(dns)
        let tcp = port(web)
        let before = snapshot([udp, tcp], [dns: [endpoint("10.0.0.1")], web: [endpoint("10.0.0.1")]])
        let after = snapshot([udp, tcp], [dns: [], web: []])
        var delta = SyncDelta()
        delta.endpointsChanged = [dns, web]
        #expect(ConntrackCleanup.filters(previous: before, current: after, delta: delta).isEmpty)
        #expect(ConntrackCleanup.filters(previous: before, current: before, delta: SyncDelta()).isEmpty)
    }

    @Test func aRemovedServicePortLosesAllItsFlows() {
        let svc = port(dns, nodePort: 30053)
        var delta = SyncDelta()
        delta.removedServicePorts = [dns: svc]
        let filters = ConntrackCleanup.filters(
            previous: snapshot([svc], [dns: [endpoint("10.0.0.1")]]), current: snapshot([], [:]), delta: delta)
        #expect(filters == [filter(nil, 30053, nil), filter("10.96.0.10", 53, nil)].sorted())
    }
}

@Suite("SyncDelta.absorb")
struct SyncDeltaAbsorbTests {
    let a = ServicePortName(namespace: "default", name: "a", port: "p")
    let b = ServicePortName(namespace: "default", name: "b", port: "p")

    func port(_ name: ServicePortName) -> ServicePort { ServicePort(name: name, clusterIP: IPAddress("10.96.0.1")!, port: 80) }

    @Test func addedThenRemovedIsNothingAndRemovedThenAddedIsAChange() {
        var first = SyncDelta()
        first.addedServicePorts = [a]
        first.removedServicePorts = [b: port(b)]
        var later = SyncDelta()
        later.removedServicePorts = [a: port(a)]
        later.addedServicePorts = [b]
        later.endpointsChanged = [b]
        first.absorb(later)
        #expect(first.addedServicePorts.isEmpty)
        #expect(first.removedServicePorts.isEmpty)
        #expect(first.changedServicePorts == [b])
        #expect(first.endpointsChanged == [b])
    }

    @Test func unionsChangesAndRemovedEndpoints() {
        var first = SyncDelta()
        first.endpointsChanged = [a]
        first.removedEndpoints = [a: [Endpoint(ip: IPAddress("10.0.0.1")!, port: 80)]]
        var later = SyncDelta()
        later.changedServicePorts = [b]
        later.removedEndpoints = [a: [Endpoint(ip: IPAddress("10.0.0.2")!, port: 80)]]
        first.absorb(later)
        #expect(first.changedServicePorts == [b])
        #expect(first.removedEndpoints[a]?.map(\.ip.description) == ["10.0.0.1", "10.0.0.2"])
    }
}
