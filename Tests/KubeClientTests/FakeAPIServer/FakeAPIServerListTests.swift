import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// LIST, GET, discovery and authentication of the fake API server, observed over HTTP.
@Suite("FakeAPIServer LIST and GET")
struct FakeAPIServerListTests {
    private func service(_ name: String, namespace: String = "default", labels: [String: String]? = nil) -> Service {
        FakeAPISamples.service(name: name, namespace: namespace, clusterIP: "192.0.2.10", labels: labels)
    }

    @Test func listReportsTheCollectionVersionAndSortedItems() async throws {
        try await withFakeServer { server in
            try server.create(service("web", namespace: "shop"))
            try server.create(service("api", namespace: "shop"))
            try server.create(service("dns", namespace: "kube-system"))
            try server.create(FakeAPISamples.endpointSlice(service: "web", namespace: "shop", addresses: ["192.0.2.20"]))

            let response = try await server.fetch("/api/v1/services")
            #expect(response.status == 200)
            #expect(response.head.headers["content-type"] == "application/json")
            let list = try response.decode(ObjectList<Service>.self)
            #expect(list.kind == "ServiceList")
            #expect(list.apiVersion == "v1")
            #expect(list.metadata?.resourceVersion == server.resourceVersion)
            #expect(
                list.items.map { "\($0.metadata.namespace ?? "")/\($0.metadata.name ?? "")" } == [
                    "kube-system/dns", "shop/api", "shop/web",
                ])
            let first = try #require(list.items.first)
            #expect(first.metadata.uid?.isEmpty == false)
            #expect(first.metadata.creationTimestamp?.hasSuffix("Z") == true)
            #expect(first.metadata.resourceVersion != nil)

            let namespaced = try await server.fetch("/api/v1/namespaces/shop/services").decode(ObjectList<Service>.self)
            #expect(namespaced.items.compactMap(\.metadata.name) == ["api", "web"])
            let slices = try await server.fetch("/apis/discovery.k8s.io/v1/endpointslices").decode(ObjectList<EndpointSlice>.self)
            #expect(slices.kind == "EndpointSliceList")
            #expect(slices.apiVersion == "discovery.k8s.io/v1")
            #expect(slices.items.compactMap(\.metadata.name) == ["web-slice"])
        }
    }

    @Test func pagesComeFromTheFirstPagesSnapshot() async throws {
        try await withFakeServer { server in
            for name in ["s1", "s2", "s3", "s4", "s5"] { try server.create(service(name)) }
            let first = try await server.fetch("/api/v1/services?limit=2").decode(ObjectList<Service>.self)
            #expect(first.items.compactMap(\.metadata.name) == ["s1", "s2"])
            #expect(first.metadata?.remainingItemCount == 3)
            let token = try #require(first.metadata?.continue)

            try server.delete(Service.self, name: "s4")
            try server.create(service("s0"))
            try server.create(service("s35"))

            let second = try await server.fetch("/api/v1/services?limit=2&continue=\(token)").decode(ObjectList<Service>.self)
            #expect(second.items.compactMap(\.metadata.name) == ["s3", "s4"])
            #expect(second.metadata?.resourceVersion == first.metadata?.resourceVersion)
            let third = try await server.fetch("/api/v1/services?limit=2&continue=\(try #require(second.metadata?.continue))")
                .decode(ObjectList<Service>.self)
            #expect(third.items.compactMap(\.metadata.name) == ["s5"])
            #expect(third.metadata?.continue == nil)

            let fresh = try await server.fetch("/api/v1/services").decode(ObjectList<Service>.self)
            #expect(fresh.items.compactMap(\.metadata.name) == ["s0", "s1", "s2", "s3", "s35", "s5"])
        }
    }

    @Test func continueTokenOlderThanTheHistoryIsExpired() async throws {
        try await withFakeServer { server in
            for name in ["s1", "s2", "s3"] { try server.create(service(name)) }
            let first = try await server.fetch("/api/v1/services?limit=1").decode(ObjectList<Service>.self)
            try server.create(service("s4"))
            server.compact()

            let response = try await server.fetch("/api/v1/services?limit=1&continue=\(try #require(first.metadata?.continue))")
            #expect(response.status == 410)
            let status = try response.decode(Status.self)
            #expect(status.reason == "Expired")
            #expect(status.code == 410)
            #expect(status.metadata?.continue?.isEmpty == false)
        }
    }

    @Test func exactListShowsAnEarlierStateUntilCompacted() async throws {
        try await withFakeServer { server in
            try server.create(service("a"))
            let before = server.resourceVersion
            try server.create(service("b"))
            try server.delete(Service.self, name: "a")

            let exact = try await server.fetch("/api/v1/services?resourceVersion=\(before)&resourceVersionMatch=Exact")
                .decode(ObjectList<Service>.self)
            #expect(exact.items.compactMap(\.metadata.name) == ["a"])
            #expect(exact.metadata?.resourceVersion == before)
            let notOlder = try await server.fetch("/api/v1/services?resourceVersion=\(before)").decode(ObjectList<Service>.self)
            #expect(notOlder.items.compactMap(\.metadata.name) == ["b"])

            server.compact()
            let expired = try await server.fetch("/api/v1/services?resourceVersion=\(before)&resourceVersionMatch=Exact")
            #expect(expired.status == 410)
            #expect(try expired.decode(Status.self).reason == "Expired")
        }
    }

    @Test(arguments: [
        ("/api/v1/services?resourceVersion=999999", 504, "Timeout"),
        ("/api/v1/services?resourceVersion=abc", 400, "BadRequest"),
        ("/api/v1/services?resourceVersionMatch=Exact", 422, "Invalid"),
        ("/api/v1/services?resourceVersion=5&continue=abc", 400, "BadRequest"),
        ("/api/v1/services?continue=not-a-token", 400, "BadRequest"),
        ("/api/v1/services?labelSelector=a%20in%20(", 400, "BadRequest"),
        ("/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue", 400, "BadRequest"),
        ("/api/v1/services?sendInitialEvents=true", 422, "Invalid"),
        ("/api/v1/namespaces/default/nodes", 404, "NotFound"),
        ("/apis/discovery.k8s.io/v1/services", 404, "NotFound"),
        ("/api/v1/namespaces/default/services/missing", 404, "NotFound"),
    ])
    func invalidRequestsGetTheRealServersStatus(target: String, code: Int, reason: String) async throws {
        try await withFakeServer { server in
            let response = try await server.fetch(target)
            #expect(response.status == code)
            let status = try response.decode(Status.self)
            #expect(status.kind == "Status")
            #expect(status.status == "Failure")
            #expect(status.code == code)
            #expect(status.reason == reason)
        }
    }

    @Test func tooLargeResourceVersionNamesTheCause() async throws {
        try await withFakeServer { server in
            let status = try await server.fetch("/api/v1/services?resourceVersion=999999").decode(Status.self)
            #expect(status.details?.causes?.first?.reason == "ResourceVersionTooLarge")
            #expect(status.details?.retryAfterSeconds == 1)
        }
    }

    @Test func labelSelectorAppliesKubeProxysFilter() async throws {
        try await withFakeServer { server in
            try server.create(service("plain"))
            try server.create(service("other-proxy", labels: [WellKnownLabels.serviceProxyName: "cilium"]))
            try server.create(service("headless", labels: [WellKnownLabels.headless: ""]))
            let selector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
            let encoded = try #require(selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let list = try await server.fetch("/api/v1/services?labelSelector=\(encoded)").decode(ObjectList<Service>.self)
            #expect(list.items.compactMap(\.metadata.name) == ["plain"])
            #expect(list.metadata?.resourceVersion == server.resourceVersion)
        }
    }

    @Test func nodesAreClusterScopedAndSelectableByName() async throws {
        try await withFakeServer { server in
            try server.create(FakeAPISamples.node(name: "node-a", internalIP: "192.0.2.1"))
            let created = try server.create(FakeAPISamples.node(name: "node-b", internalIP: "192.0.2.2", podCIDR: "10.244.1.0/24"))
            #expect(created.metadata.namespace == nil)
            let list = try await server.fetch("/api/v1/nodes?fieldSelector=metadata.name%3Dnode-b").decode(ObjectList<Node>.self)
            #expect(list.items.map(\.metadata.name) == ["node-b"])
            #expect(list.items.first?.spec?.podCIDR == "10.244.1.0/24")
            let single = try await server.fetch("/api/v1/nodes/node-a").decode(Node.self)
            #expect(single.status?.addresses?.first?.address == "192.0.2.1")
        }
    }

    @Test func getReturnsTheObjectOrNotFound() async throws {
        try await withFakeServer { server in
            let stored = try server.create(service("web"))
            let fetched = try await server.fetch("/api/v1/namespaces/default/services/web").decode(Service.self)
            #expect(fetched == stored)
            let missing = try await server.fetch("/api/v1/namespaces/default/services/nope").decode(Status.self)
            #expect(missing.message == "services \"nope\" not found")
            #expect(missing.details?.name == "nope")
        }
    }

    @Test func discoveryDescribesTheServedResources() async throws {
        try await withFakeServer { server in
            let api = try await server.fetch("/api").decode(JSONValue.self)
            #expect(api["versions"] == .array([.string("v1")]))
            let groups = try await server.fetch("/apis").decode(JSONValue.self)
            #expect(groups["groups"]?.arrayNames == ["discovery.k8s.io"])
            let core = try await server.fetch("/api/v1").decode(JSONValue.self)
            #expect(Set(core["resources"]?.arrayNames ?? []) == ["services", "endpoints", "nodes"])
            let discovery = try await server.fetch("/apis/discovery.k8s.io/v1").decode(JSONValue.self)
            #expect(discovery["resources"]?.arrayNames == ["endpointslices"])
            let version = try await server.fetch("/version").decode(JSONValue.self)
            #expect(version["gitVersion"]?.stringValue?.hasPrefix("v1.") == true)
        }
    }

    @Test func bearerTokenIsRequiredExceptForHealth() async throws {
        try await withFakeServer(token: "sesame") { server in
            let anonymous = try await RawHTTPConnection.fetch(port: server.port, "/api/v1/services")
            #expect(anonymous.status == 401)
            #expect(try anonymous.decode(Status.self).reason == "Unauthorized")
            let wrong = try await RawHTTPConnection.fetch(port: server.port, "/api/v1/services", token: "guess")
            #expect(wrong.status == 401)
            let right = try await RawHTTPConnection.fetch(port: server.port, "/api/v1/services", token: "sesame")
            #expect(right.status == 200)
            let health = try await RawHTTPConnection.fetch(port: server.port, "/healthz")
            #expect(health.status == 200)
            #expect(health.text == "ok")
        }
    }

    @Test func writesOverHTTPFollowTheSwiftAPIsRules() async throws {
        try await withFakeServer { server in
            let body = Array(
                #"{"metadata":{"name":"posted"},"spec":{"clusterIP":"192.0.2.30","ports":[{"port":53,"protocol":"UDP"}]}}"#.utf8)
            let created = try await server.fetch("/api/v1/namespaces/dns/services", method: "POST", body: body)
            #expect(created.status == 201)
            let service = try created.decode(Service.self)
            #expect(service.metadata.namespace == "dns")
            #expect(service.kind == "Service")

            var stale = service
            stale.metadata.resourceVersion = "1"
            let conflict = try await server.fetch(
                "/api/v1/namespaces/dns/services/posted", method: "PUT", body: Array(try JSONEncoder().encode(stale)))
            #expect(conflict.status == 409)
            #expect(try conflict.decode(Status.self).reason == "Conflict")

            let deleted = try await server.fetch("/api/v1/namespaces/dns/services/posted", method: "DELETE")
            #expect(deleted.status == 200)
            #expect(server.get(Service.self, namespace: "dns", name: "posted") == nil)
            let again = try await server.fetch("/api/v1/namespaces/dns/services", method: "POST", body: body)
            #expect(again.status == 201)
            let duplicate = try await server.fetch("/api/v1/namespaces/dns/services", method: "POST", body: body)
            #expect(duplicate.status == 409)
            #expect(try duplicate.decode(Status.self).reason == "AlreadyExists")
        }
    }

    @Test func swiftAPIVersionsEveryEffectiveChangeOnly() async throws {
        try await withFakeServer { server in
            let created = try server.create(service("web"))
            let versionAfterCreate = server.resourceVersion
            #expect(created.metadata.resourceVersion == versionAfterCreate)
            #expect(try server.update(created) == created)
            #expect(server.resourceVersion == versionAfterCreate)

            var changed = created
            changed.spec?.sessionAffinity = "ClientIP"
            let updated = try server.update(changed)
            #expect(updated.metadata.uid == created.metadata.uid)
            #expect(Int(updated.metadata.resourceVersion ?? "") ?? 0 > Int(versionAfterCreate) ?? 0)
            #expect(throws: Status.self) { try server.update(changed) }

            let deleted = try server.delete(Service.self, name: "web")
            #expect(deleted.metadata.resourceVersion == server.resourceVersion)
            #expect(deleted.spec?.sessionAffinity == "ClientIP")
            let error = #expect(throws: Status.self) { try server.delete(Service.self, name: "web") }
            #expect(error?.code == 404)
        }
    }
}

extension JSONValue {
    /// The `name` members of an array of objects.
    var arrayNames: [String]? {
        guard case .array(let elements) = self else { return nil }
        return elements.compactMap { $0["name"]?.stringValue }
    }
}
