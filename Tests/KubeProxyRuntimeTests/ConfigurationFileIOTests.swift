import Foundation
import KubeProxyCore
import Testing

@testable import KubeProxyRuntime

/// `--config` paths relative to the file, and `--write-config-to` that never replaces a
/// symbolic link, a device or a FIFO.
struct ConfigurationFileIOTests {
    private static let header = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"

    private func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kp-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    private func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    @Test(arguments: [
        ("kubeconfig", "/etc/kp/config.yaml", "/etc/kp/kubeconfig"),
        ("sub/kc", "/etc/kp/config.yaml", "/etc/kp/sub/kc"),
        ("../kc", "conf/config.yaml", "conf/../kc"),
        ("kc", "config.yaml", "kc"),
        ("kc", "/config.yaml", "/kc"),
        ("/abs/kc", "/etc/kp/config.yaml", "/abs/kc"),
        ("", "/etc/kp/config.yaml", ""),
    ])
    func pathsResolveAgainstTheFilesDirectory(_ path: String, _ file: String, _ expected: String) {
        #expect(ConfigurationFile.resolve(path, relativeTo: file) == expected)
    }

    @Test func loadResolvesKubeconfigAndManifestsButNothingElse() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.yaml")
        try (Self.header + "clientConnection:\n  kubeconfig: kc.yaml\nmanifests: ./m\nhostnameOverride: node/a\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let config = try ConfigurationFile.load(path: file.path)
        #expect(config.kubeconfig == dir.path + "/kc.yaml")
        #expect(config.manifests == dir.path + "/./m")
        #expect(config.hostnameOverride == "node/a")
    }

    @Test func loadNamesAMissingFile() {
        #expect {
            _ = try ConfigurationFile.load(path: "/nonexistent/kp.yaml")
        } throws: { error in
            "\(error)".contains("/nonexistent/kp.yaml") && "\(error)".contains("No such file")
        }
    }

    @Test func writingThroughASymlinkKeepsTheLinkAndReplacesTheTarget() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("..data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let target = data.appendingPathComponent("config.yaml")
        try "old".write(to: target, atomically: true, encoding: .utf8)
        chmod(target.path, 0o640)
        let link = dir.appendingPathComponent("config.yaml")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "..data/config.yaml")

        try ConfigurationFile.write("new\n", to: link.path)

        #expect(isSymbolicLink(link.path))
        #expect(try String(contentsOf: target, encoding: .utf8) == "new\n")
        var info = stat()
        #expect(stat(target.path, &info) == 0 && info.st_mode & 0o777 == 0o640)
        // No temporary file left behind in either directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: data.path) == ["config.yaml"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["..data", "config.yaml"])
    }

    @Test func aRegularFileIsReplacedAndAMissingOneCreated() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("out.yaml")
        try ConfigurationFile.write("first\n", to: file.path)
        #expect(try String(contentsOf: file, encoding: .utf8) == "first\n")
        try ConfigurationFile.write("second\n", to: file.path)
        #expect(try String(contentsOf: file, encoding: .utf8) == "second\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.yaml"])
    }

    @Test func aDeviceIsWrittenInPlaceAndStaysADevice() throws {
        try ConfigurationFile.write("discarded\n", to: "/dev/null")
        var info = stat()
        #expect(lstat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    @Test func aFIFOIsWrittenInPlace() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // A non-blocking reader first, so the writer's open does not wait for one.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }

        try ConfigurationFile.write("through the fifo\n", to: fifo)

        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
        #expect(n > 0 && String(decoding: buffer[..<max(n, 0)], as: UTF8.self) == "through the fifo\n")
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    }

    @Test func dashWritesToStandardOutput() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        try ConfigurationFile.write("to stdout\n", to: "-", standardOutput: fds[1])
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        #expect(n > 0 && String(decoding: buffer[..<max(n, 0)], as: UTF8.self) == "to stdout\n")
        #expect(FileManager.default.fileExists(atPath: "-") == false)
    }

    @Test func aDirectoryIsRefusedWithItsPath() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try ConfigurationFile.write("x", to: dir.path)
        } throws: { error in
            "\(error)".contains(dir.path) && "\(error)".contains("directory")
        }
    }
}
