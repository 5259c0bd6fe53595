import Foundation

/// Starts the real `kube-proxy` and `example-backend` binaries for end-to-end tests, and
/// reads the facts tests need (proxy ports) from the proxy's log lines.
public enum ProxyHarness {
    /// A started backend and the port it listens on.
    public struct Backend: Sendable {
        /// The process.
        public let process: ChildProcess
        /// Its name, which it puts in every response.
        public let name: String
        /// The port it listens on.
        public let port: Int
    }

    /// Errors of the harness itself (not of the code under test).
    public struct HarnessError: Error, CustomStringConvertible {
        /// What went wrong, with the process output tail.
        public let description: String
    }

    /// Starts `example-backend` on `host`, port chosen by the kernel.
    public static func startBackend(name: String, host: String = "127.0.0.1") async throws -> Backend {
        let process = try ChildProcess(
            executable: BuiltProducts.path("example-backend"),
            arguments: ["--listen", "\(host):0", "--name", name])
        // 30 s: a parallel test run on two loaded cores once took more than 10 s to get this
        // line out of a freshly started process.
        guard let line = await process.waitForLine(timeout: .seconds(30), where: { $0.contains("listening on") }),
            let portText = line.split(separator: ":").last, let port = Int(portText)
        else {
            await process.terminate()
            throw HarnessError(description: "backend \(name) did not start: \(process.output.suffix(5))")
        }
        return Backend(process: process, name: name, port: port)
    }

    /// Starts `kube-proxy` with `arguments`.
    public static func startProxy(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(executable: BuiltProducts.path("kube-proxy"), arguments: arguments)
    }

    /// Waits for the log line announcing that `servicePort` (e.g. `default/web:http`) listens, and
    /// returns its port. Searches from output line `from`.
    public static func waitForListener(
        _ proxy: ChildProcess, servicePort: String, from: Int = 0, timeout: Duration = .seconds(10)
    ) async -> Int? {
        guard
            let line = await proxy.waitForLine(
                from: from, timeout: timeout,
                where: {
                    $0.contains("servicePort=\"\(servicePort)\"") && $0.contains("listen=")
                })
        else { return nil }
        return listenPort(in: line)
    }

    /// Extracts the port from `listen="ip:port"` in a log line.
    public static func listenPort(in line: String) -> Int? {
        guard let range = line.range(of: "listen=\"") else { return nil }
        let rest = line[range.upperBound...]
        guard let end = rest.firstIndex(of: "\""), let colon = rest[..<end].lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)..<end])
    }

    /// A fresh temporary directory, removed by the caller.
    public static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `text` atomically (temp file + rename), as editors and config managers do.
    public static func write(_ text: String, to url: URL) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}
