import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// The fake serves LIST pages from JSON encoded when each object was stored (as the watch
/// cache does). These tests write through every path the server has, then compare each LIST
/// variant (all, paged, per namespace, label and field selectors) with the stored objects, so a
/// write path that forgot to refresh the bytes shows up as a stale item.
@Suite("FakeAPIServer LIST after writes")
struct FakeAPIServerListCacheTests {
    /// Every way the server can be written to; `dryRun*` must leave every LIST as it was.
    enum Write: String, CaseIterable, Sendable {
        /// The Swift API tests and the demo server use.
        case swiftCreate, swiftUpdate, swiftApply, swiftDelete
        /// HTTP, as kubectl and controllers send it.
        case post, put, strategicPatch, mergePatch, jsonPatch, delete
        /// HTTP with `dryRun=All`.
        case dryRunPost, dryRunPut, dryRunPatch, dryRunDelete

        /// Whether the write must change nothing.
        var isDryRun: Bool { rawValue.hasPrefix("dryRun") }
    }

    /// A LIST target and which stored Services it must return.
    struct Query: Sendable {
        /// Path and query.
        var target: String
        /// Whether a stored Service belongs in the answer.
        var includes: @Sendable (Service) -> Bool
    }

    private static let queries: [Query] = [
        Query(target: "/api/v1/services", includes: { _ in true }),
        Query(target: "/api/v1/services?limit=2", includes: { _ in true }),
        Query(target: "/api/v1/namespaces/shop/services?limit=1", includes: { $0.metadata.namespace == "shop" }),
        Query(target: "/api/v1/services?labelSelector=tier%3Dfront&limit=1", includes: { $0.metadata.labels?["tier"] == "front" }),
        Query(target: "/api/v1/services?fieldSelector=metadata.name%3Dweb", includes: { $0.metadata.name == "web" }),
        Query(
            target: "/api/v1/namespaces/shop/services?labelSelector=tier%21%3Dfront&limit=1",
            includes: { $0.metadata.namespace == "shop" && $0.metadata.labels?["tier"] != "front" }),
    ]

    private static func service(_ name: String, namespace: String, tier: String? = nil, port: Int = 80) -> Service {
        FakeAPISamples.service(
            name: name, namespace: namespace, clusterIP: "192.0.2.10", port: port, labels: tier.map { ["tier": $0] })
    }

    /// Every item of `target`, following `continue` tokens; checks `remainingItemCount` on the way.
    private static func listAll(_ server: FakeAPIServer, _ target: String) async throws -> [Service] {
        var items: [Service] = []
        var next: String? = target
        var pages = 0
        while let current = next, pages < 20 {
            let response = try await server.fetch(current)
            #expect(response.status == 200, "\(current): \(response.text)")
            let page = try response.decode(ObjectList<Service>.self)
            #expect(page.metadata?.resourceVersion == server.resourceVersion, "\(current)")
            items += page.items
            pages += 1
            guard let token = page.metadata?.continue else { break }
            if !target.contains("Selector=") {
                let remaining = try #require(page.metadata?.remainingItemCount, "\(current)")
                #expect(remaining > 0)
            }
            next = target + "&continue=\(token)"
        }
        return items
    }

    /// Asserts every query returns exactly the stored Services it selects, field for field.
    private static func expectListsMatchStore(_ server: FakeAPIServer, after write: Write) async throws {
        let stored = server.list(Service.self)
        for query in queries {
            let listed = try await listAll(server, query.target)
            #expect(listed == stored.filter(query.includes), "\(query.target) after \(write.rawValue)")
        }
    }

    private func perform(_ write: Write, on server: FakeAPIServer) async throws {
        let path = "/api/v1/namespaces/shop/services"
        let dryRun = write.isDryRun ? "?dryRun=All" : ""
        switch write {
        case .swiftCreate:
            try server.create(Self.service("new", namespace: "shop", tier: "front"))
        case .swiftUpdate:
            var api = try #require(server.get(Service.self, namespace: "shop", name: "api"))
            api.metadata.labels = ["tier": "front"]
            api.spec?.ports?[0].port = 8443
            try server.update(api)
        case .swiftApply:
            try server.apply(Self.service("db", namespace: "shop", tier: "front", port: 5432))
        case .swiftDelete:
            try server.delete(Service.self, namespace: "shop", name: "web")
        case .post, .dryRunPost:
            let body = Array(try JSONEncoder().encode(Self.service("new", namespace: "shop", tier: "front")))
            let response = try await server.fetch(path + dryRun, method: "POST", body: body)
            #expect(response.status == 201, "\(response.text)")
        case .put, .dryRunPut:
            var api = try #require(server.get(Service.self, namespace: "shop", name: "api"))
            api.metadata.labels = ["tier": "front"]
            let body = Array(try JSONEncoder().encode(api))
            let response = try await server.fetch(path + "/api" + dryRun, method: "PUT", body: body)
            #expect(response.status == 200, "\(response.text)")
        case .strategicPatch, .dryRunPatch:
            let response = try await server.fetch(
                path + "/api" + dryRun, method: "PATCH",
                body: Array(#"{"metadata":{"labels":{"tier":"front"}},"spec":{"ports":[{"port":443,"name":"https"}]}}"#.utf8),
                contentType: "application/strategic-merge-patch+json")
            #expect(response.status == 200, "\(response.text)")
        case .mergePatch:
            let response = try await server.fetch(
                path + "/db", method: "PATCH", body: Array(#"{"metadata":{"labels":{"tier":null}}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(response.status == 200, "\(response.text)")
        case .jsonPatch:
            let response = try await server.fetch(
                path + "/web", method: "PATCH",
                body: Array(#"[{"op":"replace","path":"/metadata/labels/tier","value":"back"}]"#.utf8),
                contentType: "application/json-patch+json")
            #expect(response.status == 200, "\(response.text)")
        case .delete, .dryRunDelete:
            let response = try await server.fetch(path + "/web" + dryRun, method: "DELETE")
            #expect(response.status == 200, "\(response.text)")
        }
    }

    @Test(arguments: Write.allCases)
    func listAfterWriteShowsTheStoredObjects(write: Write) async throws {
        try await withFakeServer { server in
            try server.create(Self.service("web", namespace: "default", tier: "front"))
            try server.create(Self.service("api", namespace: "shop"))
            try server.create(Self.service("db", namespace: "shop", tier: "back"))
            try server.create(Self.service("web", namespace: "shop", tier: "front"))
            try server.create(Self.service("cache", namespace: "kube-system", tier: "front"))
            // A first LIST before the write, so any bytes it could have cached are in place.
            try await Self.expectListsMatchStore(server, after: write)
            let before = try await Self.listAll(server, "/api/v1/services")
            let version = server.resourceVersion

            try await perform(write, on: server)

            if write.isDryRun {
                #expect(server.resourceVersion == version)
                #expect(try await Self.listAll(server, "/api/v1/services") == before)
            } else {
                #expect(server.resourceVersion != version)
                #expect(try await Self.listAll(server, "/api/v1/services") != before)
            }
            try await Self.expectListsMatchStore(server, after: write)
        }
    }

    @Test func exactListAfterAnUpdateReturnsTheEarlierObject() async throws {
        try await withFakeServer { server in
            try server.create(Self.service("web", namespace: "shop", tier: "front"))
            try server.create(Self.service("api", namespace: "shop", tier: "front"))
            let version = server.resourceVersion
            let earlier = server.list(Service.self)
            var web = try #require(server.get(Service.self, namespace: "shop", name: "web"))
            web.metadata.labels = ["tier": "back"]
            try server.update(web)
            try server.delete(Service.self, namespace: "shop", name: "api")
            try server.create(Self.service("new", namespace: "shop", tier: "front"))

            let exact = try await server.fetch("/api/v1/services?resourceVersion=\(version)&resourceVersionMatch=Exact")
                .decode(ObjectList<Service>.self)
            #expect(exact.items == earlier)
            let paged = try await server.fetch("/api/v1/services?resourceVersion=\(version)&limit=1&labelSelector=tier%3Dfront")
                .decode(ObjectList<Service>.self)
            #expect(paged.items.compactMap(\.metadata.name) == ["api"])
            #expect(paged.metadata?.continue != nil)
            #expect(paged.metadata?.remainingItemCount == nil)
        }
    }
}
