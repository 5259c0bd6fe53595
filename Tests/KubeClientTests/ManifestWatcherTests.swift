import Foundation
import KubeAPI
import KubeProxyTesting
import Synchronization
import Testing

@testable import KubeClient

/// Event-driven watching against real temporary directories and real inotify, with time driven
/// by a `ManualClock`: every assertion counts polls and listings, never wall time.
@Suite(.timeLimit(.minutes(1))) struct ManifestWatcherTests {
    static let interval = Duration.milliseconds(250)
    let directory: TemporaryDirectory
    let clock = ManualClock()
    let logs = RecordingLogHandler.Store()

    init() throws {
        directory = try TemporaryDirectory()
    }

    private func source(
        _ path: String? = nil, watching: ManifestWatching = .automatic,
        makeWatcher: (@Sendable () throws(WatcherUnavailable) -> any ManifestWatcher)? = nil
    ) -> ManifestSource {
        if let makeWatcher {
            return ManifestSource(
                path: path ?? directory.path, validator: portValidator, pollInterval: Self.interval, clock: clock,
                limits: ManifestLimits(), logger: logs.logger, safetyInterval: .seconds(30), makeWatcher: makeWatcher)
        }
        return ManifestSource(
            path: path ?? directory.path, validator: portValidator, pollInterval: Self.interval, clock: clock,
            logger: logs.logger, watching: watching)
    }

    /// Runs `source` until its initial load is delivered, then `body`, then cancels it.
    private func running(_ source: ManifestSource, _ body: (EventRecorder) async throws -> Void) async throws {
        let recorder = EventRecorder()
        defer { directory.remove() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run { await recorder.record($0) } }
            await clock.waitForSleeper(until: clock.now.advanced(by: Self.interval))
            try await body(recorder)
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// Lets `count` polls happen; returns once the source sleeps again after the last one.
    private func poll(_ count: Int = 1) async {
        for _ in 0..<count {
            let deadline = clock.now.advanced(by: Self.interval)
            await clock.waitForSleeper(until: deadline)
            clock.advance(to: deadline)
        }
        await clock.waitForSleeper(until: clock.now.advanced(by: Self.interval))
    }

    @Test func anUnchangedDirectoryIsNeitherListedNorReadUntilTheSafetyListing() async throws {
        for index in 0..<20 { try directory.write("svc-\(index).yaml", serviceYAML("web-\(index)")) }
        let source = source()
        try await running(source) { events in
            #expect(await events.next(21).count == 21)
            let loaded = source.counters()
            #expect(loaded.eventDriven)
            #expect(loaded.listings == 1 && loaded.reads == 20 && loaded.parses == 20)

            await poll(119)  // 29.75 s
            #expect(source.counters() == loaded)
            await poll(1)  // 30 s: one stat-only safety listing, nothing read
            var expected = loaded
            expected.listings += 1
            expected.safetyListings += 1
            #expect(source.counters() == expected)
            #expect(await events.unread().isEmpty)
        }
    }

    @Test func editsNewFilesRenamesAndDeletionsArriveThroughEvents() async throws {
        try directory.write("svc.yaml", serviceYAML())
        let source = source()
        try await running(source) { events in
            _ = await events.next(2)

            try directory.write("slice.yaml", sliceYAML())
            await poll(2)  // the listing that sees it, the one that finds it settled
            #expect(await events.unread().map(\.summary) == ["added EndpointSlice default/web-abc"])
            _ = await events.next(1)

            try directory.write("svc.yaml", serviceYAML(port: 81))
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])

            try directory.replace("svc.yaml", serviceYAML(port: 82))
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])

            try directory.delete("slice.yaml")
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["deleted EndpointSlice default/web-abc"])

            // Once everything is settled, polls go back to costing nothing.
            let settled = source.counters()
            await poll(20)
            #expect(source.counters() == settled)
            #expect(settled.safetyListings == 0)
        }
    }

    @Test func aConfigMapStyleSymlinkSwapIsSeen() async throws {
        // kubelet's layout: name -> ..data/name, ..data -> ..<timestamp>/, swapped atomically.
        try makeConfigMapVersion("..v1", files: ["svc.yaml": serviceYAML()])
        try link("..v1", "..data")
        try link("..data/svc.yaml", "svc.yaml")
        let source = source()
        try await running(source) { events in
            #expect(await events.next(2).map(\.summary) == ["added Service default/web", "synced"])

            try makeConfigMapVersion("..v2", files: ["svc.yaml": serviceYAML(port: 81), "slice.yaml": sliceYAML()])
            try link("..v2", "..data_tmp")
            try swap("..data_tmp", "..data")
            try link("..data/slice.yaml", "slice.yaml")
            try FileManager.default.removeItem(atPath: directory.path + "/..v1")
            await poll(3)
            #expect(
                await events.next(2).map(\.summary) == [
                    "updated Service default/web", "added EndpointSlice default/web-abc",
                ])
        }
    }

    @Test func anInPlaceEditOfASymlinkTargetElsewhereIsSeen() async throws {
        let elsewhere = try TemporaryDirectory()
        defer { elsewhere.remove() }
        let target = try elsewhere.write("svc.yaml", serviceYAML())
        try link(target, "svc.yaml")
        let source = source()
        try await running(source) { events in
            _ = await events.next(2)
            await poll(2)  // the first listing also added the target's directory to the watches
            let before = source.counters()

            try elsewhere.write("svc.yaml", serviceYAML(port: 81))
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])
            #expect(source.counters().safetyListings == before.safetyListings)
        }
    }

    @Test func aSingleFileIsWatchedThroughItsDirectory() async throws {
        let file = try directory.write("only.yaml", serviceYAML())
        try directory.write("other.yaml", serviceYAML("ignored"))
        let source = source(file)
        try await running(source) { events in
            #expect(await events.next(2).map(\.summary) == ["added Service default/web", "synced"])
            try directory.replace("only.yaml", serviceYAML(port: 81))
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])
        }
    }

    @Test func aQueueOverflowRereadsEveryFile() async throws {
        try directory.write("a.yaml", serviceYAML("a"))
        try directory.write("b.yaml", serviceYAML("b"))
        let watcher = ScriptedWatcher()
        let source = source(makeWatcher: { watcher })
        try await running(source) { events in
            _ = await events.next(3)
            let loaded = source.counters()
            await poll(4)
            #expect(source.counters() == loaded)

            watcher.report(.overflowed)
            await poll(1)
            let after = source.counters()
            #expect(after.overflows == 1)
            #expect(after.listings == loaded.listings + 1)
            #expect(after.reads == loaded.reads + 2)  // every file re-read ...
            #expect(after.parses == loaded.parses)  // ... but the same bytes are not parsed again
            #expect(await events.unread().isEmpty)
        }
    }

    @Test func anUnwatchedDirectoryIsListedEveryPoll() async throws {
        try directory.write("a.yaml", serviceYAML("a"))
        let watcher = ScriptedWatcher()
        watcher.rootWatched = false
        let source = source(makeWatcher: { watcher })
        try await running(source) { _ in
            let loaded = source.counters()
            await poll(3)
            #expect(source.counters().listings == loaded.listings + 3)
        }
    }

    @Test func forcedPollingListsEveryPollAndStillSeesChanges() async throws {
        try directory.write("svc.yaml", serviceYAML())
        let source = source(watching: .polling)
        try await running(source) { events in
            _ = await events.next(2)
            #expect(!source.counters().eventDriven)
            await poll(3)
            #expect(source.counters().listings == 4)
            try directory.write("svc.yaml", serviceYAML(port: 81))
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])
        }
    }

    @Test func anUnavailableWatcherFallsBackToPolling() async throws {
        try directory.write("svc.yaml", serviceYAML())
        let source = source(makeWatcher: { () throws(WatcherUnavailable) in
            throw WatcherUnavailable(reason: "inotify_init1: Too many open files")
        })
        try await running(source) { events in
            _ = await events.next(2)
            #expect(!source.counters().eventDriven)
            #expect(
                logs.messages(at: .warning) == [
                    "cannot watch manifests for changes (inotify_init1: Too many open files); polling every 0.25 seconds instead"
                ])
            try directory.write("svc.yaml", serviceYAML(port: 81))
            await poll(2)
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])
        }
    }

    @Test func inotifyRecordsAreParsedAndAnOverflowWins() {
        var bytes: [UInt8] = []
        func append(wd: Int32, mask: UInt32, name: String) {
            let padded = name.isEmpty ? [] : Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count)
            withUnsafeBytes(of: wd.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(padded.count).littleEndian) { bytes += $0 }
            bytes += padded
        }
        append(wd: 1, mask: 0x100, name: "svc.yaml")  // IN_CREATE
        append(wd: 2, mask: 0x8000, name: "")  // IN_IGNORED
        let records = bytes.withUnsafeBytes { InotifyWatcher.records($0) }
        #expect(records.map(\.wd) == [1, 2])
        #expect(records.map(\.mask) == [0x100, 0x8000])
        #expect(InotifyWatcher.news(of: records) == (.changed, [2]))
        #expect(InotifyWatcher.news(of: []) == (.quiet, []))
        #expect(InotifyWatcher.news(of: records + [(wd: -1, mask: 0x4000)]).news == .overflowed)
    }

    @Test func aFilesLastEventSaysWhetherItIsComplete() {
        var bytes: [UInt8] = []
        func append(wd: Int32, mask: UInt32, name: String) {
            let padded = name.isEmpty ? [] : Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count)
            withUnsafeBytes(of: wd.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(padded.count).littleEndian) { bytes += $0 }
            bytes += padded
        }
        append(wd: 1, mask: 0x100, name: "a.yaml")  // IN_CREATE
        append(wd: 1, mask: 0x002, name: "a.yaml")  // IN_MODIFY
        append(wd: 1, mask: 0x008, name: "a.yaml")  // IN_CLOSE_WRITE: complete
        append(wd: 1, mask: 0x008, name: "b.yaml")
        append(wd: 1, mask: 0x002, name: "b.yaml")  // written again after closing: not complete
        append(wd: 2, mask: 0x080, name: "c.yaml")  // IN_MOVED_TO: complete
        append(wd: 2, mask: 0x004, name: "c.yaml")  // IN_ATTRIB changes nothing
        append(wd: 2, mask: 0x040, name: "d.yaml")  // IN_MOVED_FROM: gone
        var completion: [Int32: [String: Bool]] = [:]
        bytes.withUnsafeBytes { InotifyWatcher.completions($0, into: &completion) }
        #expect(completion == [1: ["a.yaml": true, "b.yaml": false], 2: ["c.yaml": true, "d.yaml": false]])
    }

    @Test func aRenamedInFileAppliesWithoutWaitingForAPoll() async throws {
        try directory.write("svc.yaml", serviceYAML())
        let source = source()
        try await running(source) { events in
            _ = await events.next(2)
            let loaded = source.counters()
            // The clock does not move: only inotify's wake-up and the rename's completion
            // (no second listing to see the signature settle) can deliver this.
            try directory.replace("svc.yaml", serviceYAML(port: 8443))
            #expect(await events.next(1).map(\.summary) == ["updated Service default/web"])
            #expect(source.counters().reads == loaded.reads + 1)
            try directory.write("slice.yaml", sliceYAML())
            #expect(await events.next(1).map(\.summary) == ["added EndpointSlice default/web-abc"])
        }
    }

    private func makeConfigMapVersion(_ name: String, files: [String: String]) throws {
        try FileManager.default.createDirectory(atPath: directory.path + "/" + name, withIntermediateDirectories: false)
        for (file, text) in files { try directory.write(name + "/" + file, text) }
    }

    private func link(_ target: String, _ name: String) throws {
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/" + name, withDestinationPath: target)
    }

    private func swap(_ from: String, _ to: String) throws {
        guard rename(directory.path + "/" + from, directory.path + "/" + to) == 0 else {
            throw CocoaError(.fileWriteUnknown)
        }
    }
}

/// A watcher whose news the test scripts: quiet unless told otherwise.
final class ScriptedWatcher: ManifestWatcher, Sendable {
    private let state = Mutex((news: ManifestWatchNews.quiet, rootWatched: true))

    /// Whether `watch` reports the manifest directory as watched.
    var rootWatched: Bool {
        get { state.withLock { $0.rootWatched } }
        set { state.withLock { $0.rootWatched = newValue } }
    }

    /// Makes the next `news()` return `news`.
    func report(_ news: ManifestWatchNews) {
        state.withLock { $0.news = news }
    }

    func news() -> ManifestWatchNews {
        state.withLock { state in
            defer { state.news = .quiet }
            return state.news
        }
    }

    func watch(_ directories: Set<String>, required: String) -> Bool {
        rootWatched
    }
}
