import Foundation
import Testing

@testable import KubeClient

@Suite struct ManifestFilesTests {
    @Test(arguments: [
        ("svc.yaml", true), ("svc.YML", true), ("svc.json", true), ("svc.yaml~", false), (".svc.yaml.swp", false),
        (".#svc.yaml", false), ("README.md", false), ("4913", false),
    ])
    func readsOnlyVisibleManifestNames(name: String, expected: Bool) {
        #expect(ManifestFiles.isManifestName(name) == expected)
    }

    @Test func listsManifestFilesWithStableSignatures() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("a.yaml", "x")
        try directory.write("b.txt", "x")
        try FileManager.default.createDirectory(
            atPath: directory.path + "/sub.yaml", withIntermediateDirectories: false)
        let files = try ManifestFiles(path: directory.path)
        #expect(files.isDirectory)
        let first = try files.list()
        #expect(Array(first.keys) == [directory.path + "/a.yaml"])
        #expect(try files.list() == first)
        try directory.replace("a.yaml", "y")
        #expect(try files.list() != first)
    }

    @Test func aVanishedDirectoryListsAsEmpty() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.yaml", "x")
        let files = try ManifestFiles(path: directory.path)
        directory.remove()
        #expect(try files.list().isEmpty)
    }

    @Test func contentHashTellsContentsApart() {
        #expect(ManifestFiles.contentHash(Data("abc".utf8)) == ManifestFiles.contentHash(Data("abc".utf8)))
        #expect(ManifestFiles.contentHash(Data("abc".utf8)) != ManifestFiles.contentHash(Data("abd".utf8)))
        #expect(ManifestFiles.contentHash(Data()) == 0xcbf2_9ce4_8422_2325)
    }
}
