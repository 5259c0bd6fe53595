import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@testable import KubeClient

/// The source with files beyond its limits next to good ones: the bad file is refused and
/// reported once, the rest of the directory keeps serving.
@Suite(.timeLimit(.minutes(1)))
struct ManifestSourceLimitsTests {
    let directory: TemporaryDirectory
    let logs = RecordingLogHandler.Store()

    init() throws {
        directory = try TemporaryDirectory()
    }

    /// Runs a source over the directory while `body` executes, then cancels it.
    private func running(
        limits: ManifestLimits = ManifestLimits(), _ body: (ManifestSource, EventRecorder) async throws -> Void
    ) async throws {
        let source = ManifestSource(
            path: directory.path, validator: { _ in [] }, pollInterval: .milliseconds(10), limits: limits,
            logger: logs.logger)
        let recorder = EventRecorder()
        defer { directory.remove() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run { await recorder.record($0) } }
            try await body(source, recorder)
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// A sparse file of `size` bytes: no disk used, but reading it would cost `size` of memory.
    private func sparse(_ name: String, size: UInt64) throws {
        let path = try directory.write(name, "")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: size)
        try handle.close()
    }

    /// Bytes this process has read through `read(2)` and friends so far (Linux).
    private static func bytesRead() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("rchar:") }
        return line.flatMap { Int($0.dropFirst("rchar:".count).trimmingCharacters(in: .whitespaces)) }
    }

    @Test func aGigabyteFileIsRefusedUnreadAndReportedOnceAcrossPolls() async throws {
        try directory.write("svc.yaml", serviceYAML())
        try sparse("huge.yaml", size: 1 << 30)
        let before = Self.bytesRead()
        try await running { source, events in
            #expect(await events.next(2).map(\.summary) == ["added Service default/web", "synced"])
            // 10 ms polls: about 50 polls, two of them re-reading every settled file.
            try await Task.sleep(for: .milliseconds(500))
            let huge = "\(directory.path)/huge.yaml"
            #expect(
                logs.messages(at: .error) == [
                    "\(huge): file is 1073741824 bytes, more than the limit of 16777216 (--manifest-max-bytes); "
                        + "not read until it changes"
                ])
            #expect(source.currentErrors().map(\.reason) == [.limitExceeded])
            if let before, let after = Self.bytesRead() {
                #expect(after - before < 256 << 20, "the process read \(after - before) bytes")
            }

            // Shrunk to a real manifest, the file applies and recovers.
            try directory.replace("huge.yaml", sliceYAML())
            #expect(await events.next(1).map(\.summary) == ["added EndpointSlice default/web-abc"])
            #expect(logs.messages(at: .info).contains("\(huge): recovered; its contents are applied"))
            #expect(source.currentErrors().isEmpty)
        }
    }

    @Test func aFileGrownPastTheLimitKeepsItsLastGoodObjects() async throws {
        try directory.write("svc.yaml", serviceYAML())
        try directory.write("slice.yaml", sliceYAML())
        try await running(limits: ManifestLimits(maxFileBytes: 1_000)) { source, events in
            #expect(await events.next(3).count == 3)
            try directory.replace("svc.yaml", serviceYAML(port: 81) + "\n# " + String(repeating: "padding ", count: 200))
            for _ in 0..<200 where source.currentErrors().isEmpty {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(source.currentErrors().map(\.reason) == [.limitExceeded])
            try directory.replace("slice.yaml", sliceYAML(address: "10.244.1.6"))
            // The other file still applies; the big one neither updates nor deletes its Service.
            #expect(await events.next(1).map(\.summary) == ["updated EndpointSlice default/web-abc"])
            #expect(await events.unread().isEmpty)
        }
    }

    @Test func anAliasBombIsReportedOnceAndTheRestOfTheDirectoryServes() async throws {
        try directory.write("bomb.yaml", ManifestLimitsTests.billionLaughs)
        try directory.write("svc.yaml", serviceYAML())
        try await running { source, events in
            #expect(await events.next(2).map(\.summary) == ["added Service default/web", "synced"])
            try await Task.sleep(for: .milliseconds(300))
            let errors = logs.messages(at: .error)
            #expect(errors.count == 1)
            #expect(errors.first?.hasPrefix("\(directory.path)/bomb.yaml: document 1: line ") == true)
            #expect(source.currentErrors().map(\.reason) == [.limitExceeded])
        }
    }

    @Test func readingStopsAtTheLimit() throws {
        defer { directory.remove() }
        let path = try directory.write("a.yaml", String(repeating: "x", count: 100))
        let files = try ManifestFiles(path: directory.path)
        #expect(try files.read(path, maxBytes: 99) == .tooLarge(size: 100))
        #expect(try files.read(path, maxBytes: 100) == .bytes(Data(String(repeating: "x", count: 100).utf8)))
        #expect(throws: ManifestFiles.ReadFailure(description: "No such file or directory")) {
            try files.read(directory.path + "/absent.yaml", maxBytes: 100)
        }
    }
}
