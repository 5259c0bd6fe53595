import KubeAPI
import KubeProxyCore
import KubeProxyTesting
import Testing

@Suite("ProxyState")
struct ProxyStateTests {
    /// A proxy state with its two trackers, as the sync loop holds them.
    struct Harness {
        var state = ProxyState(family: .ipv4)
        var services = ServiceChangeTracker<ManualClock.Instant>()
        var endpoints = EndpointsChangeTracker<ManualClock.Instant>(family: .ipv4)

        mutating func service(_ previous: Service?, _ current: Service?) {
            services.update(previous: previous, current: current, at: t(0))
        }

        mutating func slice(_ previous: EndpointSlice?, _ current: EndpointSlice?) {
            endpoints.update(previous: previous, current: current, at: t(0))
        }

        mutating func apply() -> SyncDelta {
            state.apply(services: &services, endpoints: &endpoints)
        }
    }

    let p80 = TestObjects.portName()
    static let svc1 = TestObjects.service()
    static let slice1 = TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1"), TestObjects.endpoint("10.180.0.2")])

    @Test func addsServicesAndEndpoints() {
        var h = Harness()
        h.service(nil, Self.svc1)
        h.slice(nil, Self.slice1)
        let delta = h.apply()
        #expect(delta.addedServicePorts == [p80])
        #expect(delta.endpointsChanged == [p80])
        #expect(delta.removedServicePorts.isEmpty && delta.changedServicePorts.isEmpty && delta.removedEndpoints.isEmpty)
        #expect(delta.changedServices == [p80.service])
        let snapshot = h.state.snapshot
        #expect(snapshot.servicePorts[p80]?.clusterIP == TestObjects.ip("172.30.0.41"))
        #expect(snapshot.endpoints(for: p80).map(\.description) == ["10.180.0.1:8080", "10.180.0.2:8080"])
        #expect(h.services.pendingCount == 0 && h.endpoints.pendingCount == 0)
        #expect(h.apply().isEmpty, "a second apply without events changes nothing")
    }

    @Test func aChangedPortIsChangedAndARenamedPortIsRemovedAndAdded() {
        var h = Harness()
        h.service(nil, Self.svc1)
        _ = h.apply()
        let nodePort = TestObjects.service(type: "NodePort", ports: [ServicePortSpec(name: "p80", port: 80, nodePort: 30080)])
        h.service(Self.svc1, nodePort)
        var delta = h.apply()
        #expect(delta.changedServicePorts == [p80])
        #expect(delta.addedServicePorts.isEmpty && delta.removedServicePorts.isEmpty)

        let renamed = TestObjects.service(ports: [ServicePortSpec(name: "http", port: 80)])
        h.service(nodePort, renamed)
        delta = h.apply()
        #expect(delta.addedServicePorts == [TestObjects.portName("svc1", "http")])
        #expect(delta.removedServicePorts[p80]?.nodePort == 30080, "the removed value is the last one programmed")
        #expect(Set(h.state.snapshot.servicePorts.keys) == [TestObjects.portName("svc1", "http")])
    }

    @Test(
        arguments: [
            ("deleted", nil),
            ("headless", TestObjects.service(clusterIP: "None")),
            ("ExternalName", TestObjects.service(type: "ExternalName")),
            ("handed to another proxy", TestObjects.service(labels: [WellKnownLabels.serviceProxyName: "x"])),
        ] as [(String, Service?)])
    func aServiceThatIsGoneOrSkippedLosesItsPorts(_ what: String, current: Service?) {
        var h = Harness()
        h.service(nil, Self.svc1)
        _ = h.apply()
        h.service(Self.svc1, current)
        let delta = h.apply()
        #expect(Set(delta.removedServicePorts.keys) == [p80], "\(what)")
        #expect(h.state.snapshot.servicePorts.isEmpty)
    }

    @Test func anInvalidServiceKeepsItsLastGoodPortsAndOthersAreUnaffected() throws {
        var h = Harness()
        h.service(nil, Self.svc1)
        _ = h.apply()
        let broken = TestObjects.service(ports: [ServicePortSpec(name: "p80", port: 0)])
        let svc2 = TestObjects.service("svc2", clusterIP: "172.30.0.42")
        h.service(Self.svc1, broken)
        h.service(nil, svc2)
        let delta = h.apply()
        let causes = try #require(delta.serviceProblems[p80.service])
        #expect(causes.map(\.field) == ["spec.ports[0].port"])
        #expect(delta.removedServicePorts.isEmpty && delta.changedServicePorts.isEmpty)
        #expect(delta.addedServicePorts == [TestObjects.portName("svc2")])
        #expect(Set(h.state.snapshot.servicePorts.keys) == [p80, TestObjects.portName("svc2")])
        #expect(h.state.snapshot.servicePorts[p80]?.port == 80)
    }

    @Test func aNeverValidServiceGetsNoPorts() {
        var h = Harness()
        h.service(nil, TestObjects.service(ports: [ServicePortSpec(name: "p80", protocol: "HTTP", port: 80)]))
        let delta = h.apply()
        #expect(delta.serviceProblems.count == 1)
        #expect(h.state.snapshot.servicePorts.isEmpty)
    }

    @Test func removedEndpointsAreReportedButConditionChangesAreNot() {
        var h = Harness()
        h.slice(nil, Self.slice1)
        _ = h.apply()
        let draining = TestObjects.slice(endpoints: [
            TestObjects.endpoint("10.180.0.1", ready: false, serving: true, terminating: true)
        ])
        h.slice(Self.slice1, draining)
        let delta = h.apply()
        #expect(delta.endpointsChanged == [p80])
        #expect(delta.removedEndpoints[p80]?.map(\.description) == ["10.180.0.2:8080"])
        #expect(h.state.snapshot.endpoints(for: p80).first?.terminating == true)
    }

    @Test func endpointsOutliveTheirServiceAndGoWithTheirSlices() {
        var h = Harness()
        h.service(nil, Self.svc1)
        h.slice(nil, Self.slice1)
        _ = h.apply()
        h.service(Self.svc1, nil)
        _ = h.apply()
        #expect(h.state.snapshot.endpoints(for: p80).count == 2)
        h.slice(Self.slice1, nil)
        let delta = h.apply()
        #expect(delta.endpointsChanged == [p80])
        #expect(delta.removedEndpoints[p80]?.count == 2)
        #expect(h.state.snapshot.endpoints.isEmpty)
    }

    @Test func passesOnEndpointProblemsAndTriggerTimes() {
        var h = Harness()
        h.slice(nil, TestObjects.slice(endpoints: [TestObjects.endpoint("10.180.0.1")], triggerTime: "2024-05-01T10:00:00Z"))
        h.slice(nil, TestObjects.slice("bad", endpoints: [TestObjects.endpoint("x")]))
        let delta = h.apply()
        #expect(delta.lastChangeTriggerTimes == ["2024-05-01T10:00:00Z"])
        #expect(Set(delta.endpointProblems.keys) == [NamespacedName(namespace: "ns1", name: "bad")])
    }

    @Test func snapshotSortsServicePorts() {
        var h = Harness()
        h.service(nil, TestObjects.service("b", clusterIP: "172.30.0.2"))
        h.service(
            nil,
            TestObjects.service(
                "a", clusterIP: "172.30.0.1",
                ports: [
                    ServicePortSpec(name: "z", port: 2), ServicePortSpec(name: "m", port: 1),
                ]))
        _ = h.apply()
        #expect(h.state.snapshot.sortedServicePorts.map(\.name.description) == ["ns1/a:m", "ns1/a:z", "ns1/b:p80"])
    }

    /// `ignores` is true exactly for events that `apply` would turn into no change and no
    /// problem: checked against `apply` itself for each kind of Service.
    @Test(arguments: [
        ("other family", TestObjects.service(clusterIP: "fd00::41"), true),
        ("headless", TestObjects.service(clusterIP: "None"), true),
        ("ExternalName", TestObjects.service(clusterIP: nil, type: "ExternalName"), true),
        ("this family", TestObjects.service(), false),
        ("dual-stack", TestObjects.service(clusterIP: "fd00::41", clusterIPs: ["fd00::41", "172.30.0.41"]), false),
        ("other family, invalid", TestObjects.service(clusterIP: "fd00::41", ports: []), false),
        ("no cluster IP at all, invalid", TestObjects.service(clusterIP: "not-an-ip"), false),
    ])
    func ignoresOnlyWhatApplyWouldNotReport(_ name: String, _ service: Service, _ ignored: Bool) {
        var h = Harness()
        let key = NamespacedName(namespace: "ns1", name: "svc1")
        #expect(h.state.ignores(service, of: key) == ignored, "\(name)")
        h.service(nil, service)
        let delta = h.apply()
        #expect((delta.isEmpty && delta.serviceProblems.isEmpty) == ignored, "\(name)")
    }

    /// Once the state holds ports of a Service, no event of it is ignored: a move to the other
    /// family (or a deletion) must remove them.
    @Test func aServiceWithPortsIsNeverIgnored() {
        var h = Harness()
        let key = NamespacedName(namespace: "ns1", name: "svc1")
        #expect(h.state.ignores(nil, of: key))
        h.service(nil, Self.svc1)
        _ = h.apply()
        let moved = TestObjects.service(clusterIP: "fd00::41")
        #expect(!h.state.ignores(moved, of: key))
        #expect(!h.state.ignores(nil, of: key))
        h.service(Self.svc1, moved)
        #expect(h.apply().removedServicePorts.keys.sorted() == [p80])
        #expect(h.state.ignores(nil, of: key))
    }
}
