import KubeAPI
import KubeClient
import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyTesting
import Logging
import Testing

@testable import KubeProxyRuntime

struct ProxyControllerTests {
    static func service(
        _ name: String, clusterIP: String = "10.96.0.10", ports: [(String, Int, String)] = [("http", 80, "TCP")],
        affinity: String? = nil, timeout: Int? = nil
    ) -> Service {
        Service(
            apiVersion: "v1", kind: "Service",
            metadata: ObjectMeta(name: name, namespace: "default"),
            spec: ServiceSpec(
                ports: ports.map { ServicePortSpec(name: $0.0, protocol: $0.2, port: $0.1) },
                clusterIP: clusterIP,
                sessionAffinity: affinity,
                sessionAffinityConfig: timeout.map { SessionAffinityConfig(clientIP: ClientIPConfig(timeoutSeconds: $0)) }))
    }

    static func slice(
        _ name: String, service: String, port: Int = 8080, portName: String = "http",
        endpoints: [(String, Bool?, Bool?, Bool?)]
    ) -> EndpointSlice {
        EndpointSlice(
            apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
            metadata: ObjectMeta(
                name: name, namespace: "default", labels: ["kubernetes.io/service-name": service]),
            addressType: "IPv4",
            endpoints: endpoints.map {
                EndpointSliceEndpoint(
                    addresses: [$0.0], conditions: EndpointConditions(ready: $0.1, serving: $0.2, terminating: $0.3))
            },
            ports: [EndpointSlicePort(name: portName, protocol: "TCP", port: port)])
    }

    static let web = ServicePortName(namespace: "default", name: "web", port: "http")

    func makeController() -> (ProxyController, FakeUserspaceDataPlane) {
        let fake = FakeUserspaceDataPlane()
        let controller = ProxyController(
            nodeName: "node-1", family: .ipv4, dataPlane: fake, logger: Logger(label: "test"))
        return (controller, fake)
    }

    @Test func nothingIsProgrammedBeforeTheSourceHasSynced() async throws {
        let (controller, fake) = makeController()
        #expect(await controller.handle(.service(.added(Self.service("web")))) == false)
        #expect(await controller.sync())
        #expect(fake.applyCount == 0)
        #expect(await controller.handle(.synced))
        #expect(await controller.sync())
        #expect(fake.ports.keys.sorted() == [Self.web])
    }

    @Test func readyEndpointsAreServedAndTerminatingOnesOnlyAsFallback() async throws {
        let (controller, fake) = makeController()
        _ = await controller.handle(.service(.added(Self.service("web"))))
        let slice = Self.slice(
            "web-1", service: "web",
            endpoints: [("10.0.0.1", nil, nil, nil), ("10.0.0.2", false, true, true), ("10.0.0.3", false, false, false)])
        _ = await controller.handle(.endpointSlice(.added(slice)))
        _ = await controller.handle(.synced)
        _ = await controller.sync()
        #expect(fake.ports[Self.web]?.endpoints.map(\.description) == ["10.0.0.1:8080"])

        // With no ready endpoint left, serving-and-terminating ones carry the traffic.
        let drained = Self.slice(
            "web-1", service: "web", endpoints: [("10.0.0.2", false, true, true), ("10.0.0.3", false, false, false)])
        #expect(await controller.handle(.endpointSlice(.updated(old: slice, new: drained))))
        _ = await controller.sync()
        #expect(fake.ports[Self.web]?.endpoints.map(\.description) == ["10.0.0.2:8080"])
    }

    @Test func skippedServicesAreNotProxied() async throws {
        let (controller, fake) = makeController()
        _ = await controller.handle(.service(.added(Self.service("headless", clusterIP: "None"))))
        _ = await controller.handle(.service(.added(Self.service("noip", clusterIP: ""))))
        var external = Self.service("ext")
        external.spec?.type = "ExternalName"
        external.spec?.externalName = "example.com"
        _ = await controller.handle(.service(.added(external)))
        var other = Self.service("other")
        other.metadata.labels = ["service.kubernetes.io/service-proxy-name": "someone-else"]
        _ = await controller.handle(.service(.added(other)))
        _ = await controller.handle(.service(.added(Self.service("web"))))
        _ = await controller.handle(.synced)
        _ = await controller.sync()
        #expect(fake.ports.keys.sorted() == [Self.web])
    }

    @Test func anInvalidUpdateKeepsTheLastGoodStateAndOtherServicesChange() async throws {
        let (controller, fake) = makeController()
        let good = Self.service("web")
        _ = await controller.handle(.service(.added(good)))
        _ = await controller.handle(.synced)
        _ = await controller.sync()
        let bad = Self.service("web", ports: [("http", 99999, "TCP")])
        _ = await controller.handle(.service(.updated(old: good, new: bad)))
        _ = await controller.handle(.service(.added(Self.service("api"))))
        _ = await controller.sync()
        let api = ServicePortName(namespace: "default", name: "api", port: "http")
        #expect(fake.ports.keys.sorted() == [api, Self.web])
    }

    @Test func affinityFromTheServiceReachesTheDataPlaneWhateverTheArrivalOrder() async throws {
        let (controller, fake) = makeController()
        _ = await controller.handle(.endpointSlice(.added(Self.slice("web-1", service: "web", endpoints: [("10.0.0.1", true, nil, nil)]))))
        _ = await controller.handle(.synced)
        _ = await controller.sync()
        #expect(fake.ports.isEmpty)
        _ = await controller.handle(.service(.added(Self.service("web", affinity: "ClientIP", timeout: 60))))
        _ = await controller.sync()
        #expect(fake.ports[Self.web]?.sessionAffinity == .clientIP(timeoutSeconds: 60))
        #expect(fake.ports[Self.web]?.endpoints.count == 1)
    }

    @Test func deletingAServiceStopsItsPort() async throws {
        let (controller, fake) = makeController()
        let svc = Self.service("web")
        _ = await controller.handle(.service(.added(svc)))
        _ = await controller.handle(.synced)
        _ = await controller.sync()
        _ = await controller.handle(.service(.deleted(svc)))
        _ = await controller.sync()
        #expect(fake.ports.isEmpty)
    }

    @Test func aFailedListenerMakesTheSyncFailSoItIsRetried() async throws {
        let (controller, fake) = makeController()
        fake.setFailing([Self.web])
        _ = await controller.handle(.service(.added(Self.service("web"))))
        _ = await controller.handle(.synced)
        #expect(await controller.sync() == false)
        fake.setFailing([])
        #expect(await controller.sync())
        #expect(fake.ports.keys.sorted() == [Self.web])
    }
}

struct ProxyBuilderTests {
    @Test(arguments: ["", "0", "30000-30010", "30000+5", "30000"])
    func validPortRangesPass(_ range: String) {
        var config = KubeProxyConfiguration()
        config.portRange = range
        #expect(ProxyBuilder.validate(config).isEmpty)
    }

    @Test(arguments: ["70000-1", "abc", "10-5", "1-2-3"])
    func invalidPortRangesNameTheFlag(_ range: String) {
        var config = KubeProxyConfiguration()
        config.portRange = range
        let problems = ProxyBuilder.validate(config)
        #expect(problems.count == 1)
        #expect(problems.first?.field == "--proxy-port-range")
    }

    @Test func hostnameOverrideIsLowerCased() {
        var config = KubeProxyConfiguration()
        config.hostnameOverride = "Node-A"
        #expect(ProxyBuilder.nodeName(config) == "node-a")
    }
}

struct KlogHandlerTests {
    @Test func linesLookLikeKlogWithSortedQuotedMetadata() {
        let line = KlogHandler.format(
            level: .warning, label: "proxier", message: "service port started",
            metadata: ["servicePort": "default/web:http", "endpoints": "2", "listen": "127.0.0.1:80"],
            now: "1127 18:00:00.000000")
        #expect(line.hasPrefix("W1127 18:00:00.000000 "))
        #expect(line.hasSuffix(" proxier] service port started endpoints=2 listen=\"127.0.0.1:80\" servicePort=\"default/web:http\"\n"))
    }

    @Test func quotesAndNewlinesAreEscaped() {
        #expect(KlogHandler.quote("a \"b\"\nc") == "\"a \\\"b\\\"\\nc\"")
    }

    @Test(arguments: [(0, Logger.Level.info), (3, .info), (4, .debug), (6, .trace)])
    func verbosityMapsToLevels(_ v: Int, _ level: Logger.Level) {
        #expect(KlogHandler.level(forVerbosity: v) == level)
    }
}
