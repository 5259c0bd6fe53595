import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@testable import KubeClient

/// The source against real temporary directories: what `kube-proxy --manifests DIR` does when
/// files are added, edited, broken, fixed and deleted.
@Suite struct ManifestSourceTests {
    let directory: TemporaryDirectory
    let logs = RecordingLogHandler.Store()

    init() throws {
        directory = try TemporaryDirectory()
    }

    private func source(_ path: String? = nil, validator: @escaping ManifestValidator = portValidator) -> ManifestSource {
        ManifestSource(
            path: path ?? directory.path, validator: validator, pollInterval: .milliseconds(100), logger: logs.logger)
    }

    /// Runs `source` while `body` executes, then cancels it.
    private func running(_ source: ManifestSource, _ body: (EventRecorder) async throws -> Void) async throws {
        let recorder = EventRecorder()
        defer { directory.remove() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run { await recorder.record($0) } }
            try await body(recorder)
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    @Test func deliversTheInitialContentsThenSynced() async throws {
        try directory.write("b-slices.yaml", sliceYAML())
        try directory.write("a-services.yaml", serviceYAML() + "\n---\n" + serviceYAML("api", namespace: "shop"))
        try directory.write("notes.txt", "not a manifest: {{{")
        try directory.write(".hidden.yaml", "not: [valid")
        try await running(source()) { events in
            #expect(
                await events.next(4).map(\.summary) == [
                    "added Service default/web", "added Service shop/api", "added EndpointSlice default/web-abc",
                    "synced",
                ])
        }
        #expect(logs.messages(at: .error).isEmpty)
    }

    /// The sync loop is entered once per batch: the whole initial load is one, `.synced` one,
    /// and a re-read file's changes one more.
    @Test func theInitialLoadAndEachEditArriveAsOneBatchEach() async throws {
        try directory.write("a.yaml", serviceYAML() + "\n---\n" + serviceYAML("api"))
        try directory.write("b.yaml", sliceYAML())
        let recorder = EventRecorder()
        defer { directory.remove() }
        let source = source()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.runInBatches { await recorder.record(batch: $0) } }
            #expect(
                await recorder.next(4).map(\.summary) == [
                    "added Service default/api", "added Service default/web", "added EndpointSlice default/web-abc",
                    "synced",
                ])
            #expect(await recorder.batchSizes == [3, 1])
            try directory.replace("a.yaml", serviceYAML(port: 81) + "\n---\n" + serviceYAML("api", port: 81))
            #expect(
                await recorder.next(2).map(\.summary) == ["updated Service default/api", "updated Service default/web"])
            #expect(await recorder.batchSizes == [3, 1, 2])
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    @Test func addEditAndDeleteOfFilesBecomeEventsWithinOneSecond() async throws {
        try directory.write("svc.yaml", serviceYAML())
        try await running(source()) { events in
            #expect(await events.next(2).map(\.summary) == ["added Service default/web", "synced"])

            try directory.write("slice.yaml", sliceYAML())
            #expect(await events.next(1).map(\.summary) == ["added EndpointSlice default/web-abc"])

            try directory.write("svc.yaml", serviceYAML(port: 81))
            let updated = await events.next(1)
            guard case .service(.updated(let old, let new)) = updated.first else {
                Issue.record("expected a Service update, got \(updated.map(\.summary))")
                return
            }
            // `old` is the identity last delivered (the source keeps no objects).
            #expect(old.metadata.name == "web" && old.spec == nil)
            #expect(new.spec?.ports?.first?.port == 81)

            try directory.delete("slice.yaml")
            #expect(await events.next(1).map(\.summary) == ["deleted EndpointSlice default/web-abc"])
        }
    }

    @Test func anEditorsWriteAndRenameIsOneUpdate() async throws {
        try directory.write("svc.yaml", serviceYAML())
        try await running(source()) { events in
            _ = await events.next(2)
            try directory.replace("svc.yaml", serviceYAML(port: 8443))
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])
            try await Task.sleep(for: .milliseconds(400))
            #expect(await events.unread().isEmpty)
        }
    }

    @Test func rewritingTheSameBytesEmitsNothing() async throws {
        try directory.write("svc.yaml", serviceYAML())
        try await running(source()) { events in
            _ = await events.next(2)
            try directory.replace("svc.yaml", serviceYAML())
            try await Task.sleep(for: .milliseconds(500))
            #expect(await events.unread().isEmpty)
        }
    }

    @Test func brokenYAMLKeepsTheLastGoodStateUntilFixed() async throws {
        try directory.write("svc.yaml", serviceYAML() + "\n---\n" + serviceYAML("api"))
        let source = source()
        try await running(source) { events in
            _ = await events.next(3)

            let broken =
                serviceYAML() + "\n---\n"
                + serviceYAML("api").replacingOccurrences(of: "port: 80", with: "port: eighty")
            try directory.write("svc.yaml", broken)
            let error = await waitForErrors(source)
            #expect(
                error.map(\.description) == [
                    "\(directory.path)/svc.yaml: document 2 (Service default/api): spec.ports[0].port: must be an integer"
                ])
            #expect(logs.messages(at: .error) == error.map(\.description))
            #expect(await events.unread().isEmpty)

            try directory.write("svc.yaml", serviceYAML())
            #expect(await events.next(1).map(\.summary) == ["deleted Service default/api"])
            #expect(source.currentErrors().isEmpty)
            #expect(
                logs.messages(at: .info).contains("\(directory.path)/svc.yaml: recovered; its contents are applied"))
        }
    }

    @Test func validatorCausesBlockTheWholeFile() async throws {
        try directory.write("svc.yaml", serviceYAML())
        let source = source()
        try await running(source) { events in
            _ = await events.next(2)
            try directory.write("svc.yaml", serviceYAML(port: 70000) + "\n---\n" + serviceYAML("new"))
            let errors = await waitForErrors(source)
            #expect(
                errors.map(\.description) == [
                    "\(directory.path)/svc.yaml: document 1 (Service default/web): spec.ports[0].port: must be between 1 and 65535"
                ])
            #expect(await events.unread().isEmpty)
        }
    }

    @Test func aDuplicateObjectComesFromTheFirstFile() async throws {
        try directory.write("a.yaml", serviceYAML(port: 80))
        try directory.write("b.yaml", serviceYAML(port: 81))
        let source = source()
        try await running(source) { events in
            let initial = await events.next(2)
            guard case .service(.added(let service)) = initial.first else {
                Issue.record("expected an added Service, got \(initial.map(\.summary))")
                return
            }
            #expect(service.spec?.ports?.first?.port == 80)
            #expect(
                source.currentErrors().map(\.description) == [
                    "\(directory.path)/b.yaml: document 1 (Service default/web): already defined in \(directory.path)/a.yaml; this definition is ignored"
                ])
        }
    }

    @Test func theOtherFilesDefinitionTakesOverFromItsBytesOnDisk() async throws {
        try directory.write("a.yaml", serviceYAML(port: 80))
        try directory.write("b.yaml", serviceYAML(port: 81))
        let source = source()
        try await running(source) { events in
            _ = await events.next(2)
            // b.yaml is not read again by this poll: its object comes from reading its
            // unchanged bytes again (the source keeps no objects).
            try directory.delete("a.yaml")
            let takeover = await events.next(1)
            guard case .service(.updated(_, let new)) = takeover.first else {
                Issue.record("expected a Service update, got \(takeover.map(\.summary))")
                return
            }
            #expect(new.spec?.ports?.first?.port == 81)
            #expect(source.currentErrors().isEmpty)
        }
    }

    @Test func aSingleFileIsWatchedToo() async throws {
        let file = try directory.write("only.json", #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"}}"#)
        try await running(source(file)) { events in
            #expect(await events.next(2).map(\.summary) == ["added Service default/web", "synced"])
            try directory.delete("only.json")
            #expect(await events.next(1).map(\.summary) == ["deleted Service default/web"])
        }
    }

    @Test func aMissingPathIsAnErrorNamingIt() async {
        let path = directory.path + "/absent"
        await #expect {
            try await source(path).run { _ in }
        } throws: { error in
            (error as? ManifestError)?.description == "\(path): no such file or directory"
        }
        directory.remove()
    }

    private func waitForErrors(_ source: ManifestSource) async -> [ManifestError] {
        for _ in 0..<100 where source.currentErrors().isEmpty {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return source.currentErrors()
    }
}
