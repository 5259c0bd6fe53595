import Foundation
import KubeProxyTesting
import Testing

/// What can be proven about the container image without a container engine: the release binary
/// that `scripts/build-release.sh` builds (as the Containerfile's build stage does) needs no
/// shared library that the runtime stage lacks.
///
/// Every library `ldd` lists is mapped to its Debian package with `dpkg -S`; the package must be
/// one the runtime stage's `apt-get install` names (parsed from the `Containerfile`) or one that
/// every Debian image has because `apt` or `dpkg` depends on it (read from this machine's dpkg
/// database, which must be the runtime image's Debian release). A Swift runtime library from
/// the toolchain belongs to no package and fails the test: the standard library must be static.
///
/// The release build takes minutes, so the test runs only when the binary exists
/// (`scripts/build-release.sh`, or `KUBE_PROXY_RELEASE_BINARY=path`).
struct ReleaseBinaryTests {
    static let containerfile = Fixtures.packageRoot.appendingPathComponent("Containerfile").path

    /// The binary under test, or `nil` when it has not been built.
    static func binary() -> String? {
        let path =
            ProcessInfo.processInfo.environment["KUBE_PROXY_RELEASE_BINARY"]
            ?? Fixtures.packageRoot.appendingPathComponent(".build-release/release/kube-proxy").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Runs `tool arguments`, returning its exit status and standard output (stderr discarded).
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The runtime stage (after the last `FROM`): its base image and the packages its
    /// `apt-get install` lines name (options and shell continuations skipped).
    static func runtimeStage(_ text: String) throws -> (image: String, packages: Set<String>) {
        let joined = text.replacingOccurrences(of: "\\\n", with: " ")
        let lines = joined.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let from = try #require(lines.lastIndex { $0.hasPrefix("FROM ") }, "the Containerfile has no FROM")
        var image = String(lines[from].dropFirst("FROM ".count).split(separator: " ")[0])
        if image.hasPrefix("${"), let name = image.dropFirst(2).split(separator: "}").first {
            let argument = try #require(lines.first { $0.hasPrefix("ARG \(name)=") }, "no default for \(image)")
            image = String(argument.dropFirst("ARG \(name)=".count))
        }
        var packages: Set<String> = []
        for line in lines[from...] where !line.hasPrefix("#") {
            for command in line.components(separatedBy: "&&") {
                let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
                guard let install = words.firstIndex(of: "install"), install > 0, words[install - 1] == "apt-get" else { continue }
                packages.formUnion(words[(install + 1)...].filter { !$0.hasPrefix("-") })
            }
        }
        return (image, packages)
    }

    /// The packages that `apt` and `dpkg` depend on directly: in every Debian image, slim included.
    static func basePackages() throws -> Set<String> {
        let fields = try run("/usr/bin/dpkg-query", ["-W", "-f=${Depends}, ${Pre-Depends}\n", "apt", "dpkg"]).output
        let alternatives = fields.split(whereSeparator: { $0 == "," || $0 == "\n" })
        return Set(
            alternatives.compactMap { entry in
                // "libc6 (>= 2.34)" or "gpgv | gpgv2": the first name of each entry.
                entry.split(separator: "|").first?.split(separator: " ").first.map { String($0.split(separator: ":")[0]) }
            })
    }

    /// The package owning `path`, trying the merged-/usr spellings dpkg may have recorded.
    static func owner(of path: String) throws -> String? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var candidates = [path, resolved]
        for candidate in [path, resolved] {
            if candidate.hasPrefix("/usr/") {
                candidates.append(String(candidate.dropFirst(4)))
            } else {
                candidates.append("/usr" + candidate)
            }
        }
        for candidate in candidates {
            let result = try run("/usr/bin/dpkg", ["-S", candidate])
            if result.status == 0, let package = result.output.split(separator: ":").first {
                return String(package)
            }
        }
        return nil
    }

    /// `ldd`'s libraries: resolved paths, the loader's path, and names it could not find
    /// (as `not found: NAME`). The vDSO has no file and is left out.
    static func sharedLibraries(_ binary: String) throws -> [String] {
        let result = try run("/usr/bin/ldd", [binary])
        try #require(result.status == 0, "ldd \(binary) failed: \(result.output)")
        return result.output.split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.contains("not found") { return "not found: \(text)" }
            if let arrow = text.range(of: "=> ") {
                return text[arrow.upperBound...].split(separator: " ").first.map(String.init)
            }
            return text.hasPrefix("/") ? text.split(separator: " ").first.map(String.init) : nil
        }
    }

    @Test func theContainerfileInstallsExactlyTheProxysTools() throws {
        let stage = try Self.runtimeStage(try String(contentsOfFile: Self.containerfile, encoding: .utf8))
        #expect(stage.image.hasPrefix("debian:") && stage.image.hasSuffix("-slim"), "\(stage.image)")
        #expect(stage.packages == ["iptables", "nftables", "conntrack"])
    }

    @Test func everySharedLibraryComesFromAPackageOfTheRuntimeStage() throws {
        guard let binary = Self.binary() else {
            print("skipped: no release binary; build it with scripts/build-release.sh (minutes) or set KUBE_PROXY_RELEASE_BINARY")
            return
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg"), FileManager.default.isExecutableFile(atPath: "/usr/bin/ldd")
        else {
            print("skipped: needs dpkg and ldd (a Debian machine)")
            return
        }
        let stage = try Self.runtimeStage(try String(contentsOfFile: Self.containerfile, encoding: .utf8))
        let release = try #require(stage.image.split(separator: ":").last?.split(separator: "-").first.map(String.init))
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        guard osRelease.contains("VERSION_CODENAME=\(release)") else {
            print(
                "skipped: this machine is not Debian \(release), the runtime stage's release, so its package database says nothing about it"
            )
            return
        }
        let allowed = stage.packages.union(try Self.basePackages())
        let libraries = try Self.sharedLibraries(binary)
        #expect(!libraries.isEmpty)
        for library in libraries {
            let package = library.hasPrefix("not found") ? nil : try Self.owner(of: library)
            #expect(package != nil, "\(library) belongs to no Debian package (a toolchain library? the stdlib must be static)")
            if let package {
                #expect(allowed.contains(package), "\(library) comes from \(package), which the runtime stage does not have")
            }
        }
        let version = try Self.run(binary, ["--version"])
        #expect(version.status == 0 && version.output.contains("swift-kube-proxy"), "\(version)")
    }
}
