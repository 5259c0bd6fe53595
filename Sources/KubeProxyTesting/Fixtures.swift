import Foundation

/// Loads the upstream Kubernetes API JSON fixtures (`Tests/Fixtures/k8s-api/*.json`) for
/// decoder and round-trip tests.
///
/// The fixtures are part of the repository (their provenance is in the directory's README), so
/// a plain clone tests with nothing beside it. The package root is found from this file's
/// `#filePath`, so tests work from any working directory; set `KUBE_PROXY_FIXTURES` to point at
/// another directory, e.g. a newer upstream snapshot.
public enum Fixtures {
    /// Environment variable that overrides the fixture directory.
    public static let environmentVariable = "KUBE_PROXY_FIXTURES"

    /// Errors carry the path that was tried, so a wrong `KUBE_PROXY_FIXTURES` is obvious.
    public struct LoadError: Error, CustomStringConvertible {
        /// The file or directory that could not be read.
        public var path: String
        /// The underlying error.
        public var underlying: any Error

        /// `cannot read fixture PATH: ERROR`.
        public var description: String { "cannot read fixture \(path): \(underlying)" }
    }

    /// The fixture directory: `$KUBE_PROXY_FIXTURES`, else `<package root>/Tests/Fixtures/k8s-api`.
    public static var directory: URL {
        if let override = ProcessInfo.processInfo.environment[environmentVariable], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return packageRoot.appendingPathComponent("Tests/Fixtures/k8s-api", isDirectory: true)
    }

    /// The package root: three levels above `Sources/KubeProxyTesting/Fixtures.swift`.
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // KubeProxyTesting
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // package root
    }

    /// File names of all `*.json` fixtures, sorted.
    public static func allNames() throws -> [String] {
        let path = directory.path
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".json") }
                .sorted()
        } catch {
            throw LoadError(path: path, underlying: error)
        }
    }

    /// The raw bytes of fixture `name` (e.g. `core.v1.Service.json`).
    public static func data(_ name: String) throws -> Data {
        let url = directory.appendingPathComponent(name)
        do {
            return try Data(contentsOf: url)
        } catch {
            throw LoadError(path: url.path, underlying: error)
        }
    }

    /// Fixture `name` decoded as `type` with a plain `JSONDecoder`, as the API client decodes.
    public static func decode<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        try JSONDecoder().decode(type, from: data(name))
    }
}
