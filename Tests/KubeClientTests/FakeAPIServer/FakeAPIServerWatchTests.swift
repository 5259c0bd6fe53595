import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

/// WATCH semantics of the fake API server, read as a chunked JSON-lines stream off a socket.
@Suite("FakeAPIServer WATCH")
struct FakeAPIServerWatchTests {
    private func service(_ name: String, namespace: String = "default", labels: [String: String]? = nil) -> Service {
        FakeAPISamples.service(name: name, namespace: namespace, clusterIP: "192.0.2.10", labels: labels)
    }

    @Test func watchFromAVersionReplaysLaterChangesThenStreamsLiveOnes() async throws {
        try await withFakeServer { server in
            try server.create(service("s1"))
            let start = server.resourceVersion
            try server.create(service("s2"))
            var changed = service("s1")
            changed.spec?.sessionAffinity = "ClientIP"
            try server.update(changed)
            try server.create(service("elsewhere", namespace: "other"))

            let (watch, head) = try await server.openWatch("/api/v1/namespaces/default/services?watch=true&resourceVersion=\(start)")
            #expect(head.status == 200)
            #expect(head.headers["transfer-encoding"] == "chunked")
            #expect(head.headers["content-type"] == "application/json")
            let replayed = [try await watch.event(), try await watch.event()]
            #expect(replayed.map { $0?.type } == ["ADDED", "MODIFIED"])
            #expect(replayed.map { $0?.object.name } == ["s2", "s1"])

            #expect(await server.waitForWatches(1, on: .services))
            try server.create(service("s3"))
            let deleted = try server.delete(Service.self, name: "s2")
            let added = try #require(try await watch.event())
            #expect(added.type == "ADDED")
            #expect(added.object.name == "s3")
            let removed = try #require(try await watch.event())
            #expect(removed.type == "DELETED")
            #expect(removed.object.name == "s2")
            #expect(removed.object.resourceVersion == deleted.metadata.resourceVersion)
            #expect(removed.object.resourceVersion == server.resourceVersion)
            watch.close()
        }
    }

    @Test func watchWithoutAVersionStartsWithTheCurrentState() async throws {
        try await withFakeServer { server in
            try server.create(service("a"))
            try server.create(service("b"))
            let (watch, _) = try await server.openWatch("/api/v1/services?watch=1")
            let first = [try await watch.event(), try await watch.event()]
            #expect(first.map { $0?.type } == ["ADDED", "ADDED"])
            #expect(Set(first.compactMap { $0?.object.name }) == ["a", "b"])
            #expect(await server.waitForWatches(1))
            try server.create(service("c"))
            #expect(try await watch.event()?.object.name == "c")
            watch.close()
        }
    }

    @Test func bookmarksCarryTheLatestVersionWhenAllowed() async throws {
        let configuration = FakeAPIServer.Configuration(bookmarkInterval: .milliseconds(100))
        try await withFakeServer(configuration: configuration) { server in
            try server.create(service("a"))
            let (watch, _) = try await server.openWatch(
                "/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)&allowWatchBookmarks=true"
            )
            #expect(await server.waitForWatches(1))
            let before = server.resourceVersion
            try server.create(FakeAPISamples.endpointSlice(service: "a", addresses: ["192.0.2.20"]))
            // A tick may fall before the slice was created; the next one must carry its version.
            var bookmarks: [WatchEvent<JSONValue>] = []
            while bookmarks.last?.object.resourceVersion != server.resourceVersion, bookmarks.count < 50 {
                bookmarks.append(try #require(try await watch.event()))
            }
            #expect(bookmarks.allSatisfy { $0.type == "BOOKMARK" })
            #expect(bookmarks.allSatisfy { [before, server.resourceVersion].contains($0.object.resourceVersion) })
            let bookmark = try #require(bookmarks.last)
            #expect(bookmark.object.resourceVersion == server.resourceVersion)
            #expect(bookmark.object["kind"]?.stringValue == "Service")
            #expect(bookmark.object["apiVersion"]?.stringValue == "v1")
            #expect(bookmark.object.name == nil)
            watch.close()
        }
    }

    @Test func noBookmarksUnlessAsked() async throws {
        let configuration = FakeAPIServer.Configuration(bookmarkInterval: .milliseconds(50))
        try await withFakeServer(configuration: configuration) { server in
            let (watch, _) = try await server.openWatch(
                "/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)&timeoutSeconds=1")
            let (events, failure) = await watch.drain()
            #expect(failure == nil)
            #expect(events.isEmpty)
        }
    }

    @Test func timeoutSecondsEndsTheStreamCleanlyAndKeepsTheConnection() async throws {
        try await withFakeServer { server in
            let (watch, _) = try await server.openWatch(
                "/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)&timeoutSeconds=1&allowWatchBookmarks=true"
            )
            let (events, failure) = await watch.drain()
            #expect(failure == nil)
            #expect(events.map(\.type) == ["BOOKMARK"])
            #expect(server.openWatchCount == 0)
            let token = server.token
            let next = try await offPool {
                try watch.send("GET", "/version", token: token)
                return try watch.readResponse()
            }
            #expect(next.status == 200)
        }
    }

    @Test(arguments: [FakeAPIServer.Configuration.TooOldWatchResponse.errorEvent, .httpStatus])
    func watchFromACompactedVersionIsExpired(style: FakeAPIServer.Configuration.TooOldWatchResponse) async throws {
        try await withFakeServer(configuration: .init(tooOldWatch: style)) { server in
            try server.create(service("a"))
            let old = server.resourceVersion
            try server.create(service("b"))
            server.compact()
            let (watch, head) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(old)")
            switch style {
            case .errorEvent:
                #expect(head.status == 200)
                let (events, failure) = await watch.drain()
                #expect(failure == nil)
                #expect(events.map(\.type) == ["ERROR"])
                let status = try JSONDecoder().decode(Status.self, from: JSONEncoder().encode(try #require(events.first).object))
                #expect(status.code == 410)
                #expect(status.reason == "Expired")
                #expect(status.message == "too old resource version: \(old) (\(server.oldestResourceVersion))")
            case .httpStatus:
                #expect(head.status == 410)
            }
            watch.close()
        }
    }

    @Test func historyWindowBoundsReplay() async throws {
        try await withFakeServer(configuration: .init(historyLimit: 3)) { server in
            let first = try server.create(service("s1"))
            for name in ["s2", "s3", "s4", "s5"] { try server.create(service(name)) }
            let (expired, _) = try await server.openWatch(
                "/api/v1/services?watch=true&resourceVersion=\(first.metadata.resourceVersion ?? "")")
            #expect(try await expired.event()?.type == "ERROR")
            let (replay, _) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=\(server.oldestResourceVersion)")
            let events = [try await replay.event(), try await replay.event(), try await replay.event()]
            #expect(events.map { $0?.object.name } == ["s3", "s4", "s5"])
            replay.close()
        }
    }

    @Test func relabellingAcrossASelectorIsDeletedThenAdded() async throws {
        try await withFakeServer { server in
            let original = try server.create(service("web"))
            let selector = try #require(
                "!service.kubernetes.io/service-proxy-name".addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let (watch, _) = try await server.openWatch(
                "/api/v1/services?watch=true&resourceVersion=\(server.resourceVersion)&labelSelector=\(selector)"
            )
            #expect(await server.waitForWatches(1))
            var claimed = original
            claimed.metadata.labels = [WellKnownLabels.serviceProxyName: "other"]
            let claimedStored = try server.update(claimed)
            var restored = original
            restored.metadata.resourceVersion = nil
            try server.update(restored)

            let gone = try #require(try await watch.event())
            #expect(gone.type == "DELETED")
            #expect(gone.object["metadata"]?["labels"] == nil)
            #expect(gone.object.resourceVersion == claimedStored.metadata.resourceVersion)
            let back = try #require(try await watch.event())
            #expect(back.type == "ADDED")
            #expect(back.object.resourceVersion == server.resourceVersion)
            watch.close()
        }
    }

    @Test func streamingListEndsTheInitialStateWithAnAnnotatedBookmark() async throws {
        try await withFakeServer { server in
            try server.create(FakeAPISamples.endpointSlice(service: "a", addresses: ["192.0.2.20"]))
            try server.create(FakeAPISamples.endpointSlice(service: "b", addresses: ["192.0.2.21"]))
            let options = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
            let (watch, _) = try await server.openWatch("/apis/discovery.k8s.io/v1/endpointslices?\(options)")
            let events = [try await watch.event(), try await watch.event(), try await watch.event()]
            #expect(events.map { $0?.type } == ["ADDED", "ADDED", "BOOKMARK"])
            let bookmark = try #require(events.last ?? nil)
            #expect(bookmark.object["metadata"]?["annotations"]?["k8s.io/initial-events-end"] == .string("true"))
            #expect(bookmark.object.resourceVersion == server.resourceVersion)
            #expect(bookmark.object["kind"]?.stringValue == "EndpointSlice")
            watch.close()

            let refused = try await server.fetch(
                "/apis/discovery.k8s.io/v1/endpointslices?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
            #expect(refused.status == 422)
        }
    }

    @Test func watchAheadOfTheServerIsATimeoutErrorEvent() async throws {
        try await withFakeServer { server in
            let (watch, head) = try await server.openWatch("/api/v1/services?watch=true&resourceVersion=999999")
            #expect(head.status == 200)
            let (events, failure) = await watch.drain()
            #expect(failure == nil)
            #expect(events.first?.object["code"] == .int(504))
        }
    }

    @Test func chunkSizeSplitsEventsAcrossChunks() async throws {
        try await withFakeServer(configuration: .init(watchChunkSize: 7)) { server in
            try server.create(service("web"))
            let (watch, _) = try await server.openWatch("/api/v1/services?watch=true")
            let chunks = try await offPool {
                var chunks: [[UInt8]] = []
                while chunks.last?.contains(UInt8(ascii: "\n")) != true, let chunk = try watch.nextChunk() { chunks.append(chunk) }
                return chunks
            }
            #expect(chunks.count > 2)
            #expect(chunks.allSatisfy { $0.count <= 7 })
            let line = chunks.flatMap { $0 }.split(separator: UInt8(ascii: "\n")).first ?? []
            let event = try JSONDecoder().decode(WatchEvent<Service>.self, from: Data(line))
            #expect(event.type == "ADDED")
            #expect(event.object.metadata.name == "web")
            watch.close()
        }
    }

    @Test func watchOfANamedObjectSeesOnlyThatObject() async throws {
        try await withFakeServer { server in
            let (watch, _) = try await server.openWatch(
                "/api/v1/namespaces/default/services/web?watch=true&resourceVersion=\(server.resourceVersion)"
            )
            #expect(await server.waitForWatches(1))
            try server.create(service("api"))
            try server.create(service("web"))
            #expect(try await watch.event()?.object.name == "web")
            watch.close()
        }
    }
}
