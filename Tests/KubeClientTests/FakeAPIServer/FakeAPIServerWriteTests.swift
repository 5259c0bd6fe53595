import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// Writes over HTTP as kubectl sends them: PATCH in three formats, field validation, dry runs,
/// the OpenAPI documents kubectl reads first, and the control endpoint for faults.
@Suite("FakeAPIServer writes and control")
struct FakeAPIServerWriteTests {
    private let servicePath = "/api/v1/namespaces/default/services/web"

    @Test func strategicPatchMergesPortsAndNotifiesWatchers() async throws {
        try await withFakeServer { server in
            let created = try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10"))
            let (watch, _) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)")
            #expect(await server.waitForWatches(1))
            let response = try await server.fetch(
                servicePath, method: "PATCH", body: Array(#"{"spec":{"ports":[{"port":443,"name":"https","targetPort":8443}]}}"#.utf8),
                contentType: "application/strategic-merge-patch+json")
            #expect(response.status == 200, "\(response.text)")
            let stored = try #require(server.get(Service.self, name: "web"))
            #expect(stored.spec?.ports?.map(\.port) == [80, 443])
            #expect(stored.metadata.uid == created.metadata.uid)
            #expect(try response.decode(Service.self) == stored)
            let event = try await watch.event()
            #expect(event?.type == "MODIFIED")
            #expect(event?.object["metadata"]?["resourceVersion"]?.stringValue == stored.metadata.resourceVersion)
            watch.close()
        }
    }

    @Test func mergeAndJSONPatchesReplaceListsAndDeleteWithNull() async throws {
        try await withFakeServer { server in
            try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10", labels: ["app": "web", "tier": "front"]))
            let merge = try await server.fetch(
                servicePath, method: "PATCH",
                body: Array(#"{"metadata":{"labels":{"tier":null}},"spec":{"ports":[{"port":8080,"name":"alt"}]}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(merge.status == 200, "\(merge.text)")
            var stored = try #require(server.get(Service.self, name: "web"))
            #expect(stored.metadata.labels == ["app": "web"])
            #expect(stored.spec?.ports?.map(\.port) == [8080])

            let json = try await server.fetch(
                servicePath, method: "PATCH", body: Array(#"[{"op":"replace","path":"/spec/ports/0/port","value":9090}]"#.utf8),
                contentType: "application/json-patch+json")
            #expect(json.status == 200, "\(json.text)")
            stored = try #require(server.get(Service.self, name: "web"))
            #expect(stored.spec?.ports?.map(\.port) == [9090])
        }
    }

    @Test func patchErrorsAreStatuses() async throws {
        try await withFakeServer { server in
            try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10"))
            let before = server.resourceVersion
            let missing = try await server.fetch(
                "/api/v1/namespaces/default/services/nope", method: "PATCH", body: Array("{}".utf8),
                contentType: "application/merge-patch+json")
            #expect(missing.status == 404)
            let apply = try await server.fetch(
                servicePath, method: "PATCH", body: Array("{}".utf8), contentType: "application/apply-patch+yaml")
            #expect(apply.status == 415)
            #expect(apply.text.contains("server-side apply is not supported"))
            let rename = try await server.fetch(
                servicePath, method: "PATCH", body: Array(#"{"metadata":{"name":"other"}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(rename.status == 400)
            let stale = try await server.fetch(
                servicePath, method: "PATCH", body: Array(#"{"metadata":{"resourceVersion":"1"},"spec":{"type":"NodePort"}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(stale.status == 409)
            let noKey = try await server.fetch(
                servicePath, method: "PATCH", body: Array(#"{"spec":{"ports":[{"name":"x"}]}}"#.utf8),
                contentType: "application/strategic-merge-patch+json")
            #expect(noKey.status == 422)
            #expect(noKey.text.contains("merge key: port"))
            #expect(server.resourceVersion == before)
        }
    }

    @Test func unknownFieldsAreRejectedUnderStrictAndWarnedOtherwise() async throws {
        try await withFakeServer { server in
            try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10"))
            let body = Array(#"{"spec":{"bogus":1,"ports":[{"port":80,"colour":"red"}]}}"#.utf8)
            let strict = try await server.fetch(
                servicePath + "?fieldValidation=Strict", method: "PATCH", body: body, contentType: "application/strategic-merge-patch+json")
            #expect(strict.status == 400)
            #expect(strict.text.contains(#"strict decoding error: unknown field \"spec.bogus\", unknown field \"spec.ports[0].colour\""#))
            let warned = try await server.fetch(
                servicePath, method: "PATCH", body: body, contentType: "application/strategic-merge-patch+json")
            #expect(warned.status == 200)
            #expect(warned.head.headers["warning"]?.contains("unknown field") == true)
            let invalid = try await server.fetch(
                servicePath + "?fieldValidation=Loose", method: "PATCH", body: body, contentType: "application/merge-patch+json")
            #expect(invalid.status == 400)
        }
    }

    @Test func dryRunAnswersWithoutStoring() async throws {
        try await withFakeServer { server in
            let service = FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10")
            let before = server.resourceVersion
            let created = try await server.fetch(
                "/api/v1/namespaces/default/services?dryRun=All", method: "POST", body: Array(try JSONEncoder().encode(service)))
            #expect(created.status == 201)
            #expect(server.get(Service.self, name: "web") == nil)
            #expect(server.resourceVersion == before)
            let invalid = try await server.fetch(
                "/api/v1/namespaces/default/services?dryRun=Some", method: "POST", body: Array(try JSONEncoder().encode(service)))
            #expect(invalid.status == 400)
        }
    }

    @Test func openAPIAdvertisesFieldValidationOnEveryPatch() async throws {
        try await withFakeServer { server in
            let root = try await server.fetch("/openapi/v3").decode(JSONValue.self)
            for resource in FakeAPIResource.allCases {
                let groupVersion = String(resource.groupVersionPath.dropFirst())
                let url = try #require(root["paths"]?[groupVersion]?["serverRelativeURL"]?.stringValue)
                let document = try await server.fetch(url).decode(JSONValue.self)
                let collection =
                    resource.isNamespaced ? "/\(groupVersion)/namespaces/{namespace}/\(resource.rawValue)" : resource.collectionPath()
                let patch = try #require(document["paths"]?[collection + "/{name}"]?["patch"], "\(resource)")
                #expect(patch["x-kubernetes-group-version-kind"]?["kind"]?.stringValue == resource.kind)
                guard case .array(let parameters) = patch["parameters"] else {
                    Issue.record("no parameters for \(resource)")
                    continue
                }
                #expect(parameters.contains { $0["name"]?.stringValue == "fieldValidation" && $0["in"]?.stringValue == "query" })
            }
            #expect(try await server.fetch("/openapi/v3/apis/apps/v1").status == 404)
        }
    }

    @Test func controlEndpointInjectsReportsAndClearsFaults() async throws {
        try await withFakeServer { server in
            let injected = try await server.fetch("/fake/faults", method: "POST", body: Array("# rehearsal\nfail=2:503:1\n".utf8))
            #expect(injected.status == 200, "\(injected.text)")
            let report = try await server.fetch("/fake/faults").decode(JSONValue.self)
            #expect(report["failures"]?["remaining"] == .int(2))
            #expect(report["failures"]?["code"] == .int(503))
            let failed = try await server.fetch("/api/v1/services")
            #expect(failed.status == 503)
            #expect(failed.head.headers["retry-after"] == "1")
            _ = try await server.fetch("/fake/faults?fault=clear", method: "POST")
            #expect(try await server.fetch("/api/v1/services").status == 200)

            let stalled = try await server.fetch("/fake/faults?fault=stall%3D5s", method: "POST")
            #expect(stalled.status == 200)
            // The control endpoint itself is never stalled.
            #expect(try await server.fetch("/fake/faults").decode(JSONValue.self)["stallRemainingMilliseconds"] != .int(0))
            _ = try await server.fetch("/fake/faults?fault=clear", method: "POST")

            let bad = try await server.fetch("/fake/faults", method: "POST", body: Array("explode".utf8))
            #expect(bad.status == 400)
            #expect(bad.text.contains("unknown fault"))
            let anonymous = try await RawHTTPConnection.fetch(port: server.port, "/fake/faults", method: "POST", body: Array("gone".utf8))
            #expect(anonymous.status == 401)
        }
    }

    @Test func controlGoneSendsExpiredToWatchesAndResetDropsThemAfterAnswering() async throws {
        try await withFakeServer { server in
            let oldVersion = server.resourceVersion
            try server.create(FakeAPISamples.service(name: "web", clusterIP: "192.0.2.10"))
            var (watch, _) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)")
            #expect(await server.waitForWatches(1))
            #expect(try await server.fetch("/fake/faults", method: "POST", body: Array("gone".utf8)).status == 200)
            let (events, _) = await watch.drain()
            #expect(events.first?.type == "ERROR")
            #expect(events.first?.object["code"] == .int(410))
            watch.close()
            // The history is compacted: resuming from before the last change is 410 too.
            (watch, _) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(oldVersion)")
            #expect(try await watch.event()?.object["code"] == .int(410))
            watch.close()

            (watch, _) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)")
            #expect(await server.waitForWatches(1))
            let reset = try await server.fetch("/fake/faults", method: "POST", body: Array("reset".utf8))
            #expect(reset.status == 200)
            let (_, failure) = await watch.drain()
            #expect(failure == .reset || failure == .closed)
            watch.close()
        }
    }
}
