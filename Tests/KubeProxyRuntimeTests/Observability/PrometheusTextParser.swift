import Foundation
import Testing

/// Parses Prometheus text exposition with the reference Python client
/// (`prometheus_client.parser.text_string_to_metric_families`), so exposition tests check what a
/// real scraper reads rather than our own idea of the format.
///
/// Needs `python3` with the pip package `prometheus-client`; tests use `isAvailable` to skip
/// (with a message naming the package) where it is missing.
enum PrometheusTextParser {
    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family: Decodable {
        var name: String
        var type: String
        var samples: [Sample]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        families = [
            {"name": f.name, "type": f.type,
             "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
            for f in text_string_to_metric_families(sys.stdin.read())
        ]
        json.dump(families, sys.stdout)
        """

    /// Whether python3 can import the parser.
    static let isAvailable: Bool =
        (try? run(["-c", "import prometheus_client.parser"], input: "").status == 0) ?? false

    /// The message shown when the parser tests are skipped.
    static let skipReason: Comment = "needs python3 with the prometheus-client package (pip install prometheus-client)"

    /// Parses `text`; throws with python's stderr when the text is rejected.
    static func parse(_ text: String) throws -> [Family] {
        let result = try run(["-c", script], input: text)
        guard result.status == 0 else {
            throw Failure(description: "prometheus_client rejected the text: \(result.stderr)")
        }
        return try JSONDecoder().decode([Family].self, from: Data(result.stdout.utf8))
    }

    private static func run(_ arguments: [String], input: String) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
