import Foundation
import Testing

@testable import KubeClient

/// Inputs the manifest and kubeconfig fuzz targets (Fuzz/Sources/fuzz-manifest, fuzz-kubeconfig)
/// turned up, kept so the fixes stay fixed.
struct ManifestFuzzRegressionTests {
    /// "Billion laughs": nine anchors, each a list of nine aliases of the previous one, 9^9
    /// strings once expanded, from 400 bytes. `ManifestParser.json(from:)` expanded every alias,
    /// so both `ManifestDecoder.decode` and the kubeconfig reader (same parser) ran into
    /// libFuzzer's 10 s timeout, growing without bound; `ManifestLimits` now refuses it.
    static let aliasBomb: String = {
        var text = "a: &a [\"x\", \"x\", \"x\", \"x\", \"x\", \"x\", \"x\", \"x\", \"x\"]\n"
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            let aliases = Array(repeating: "*\(previous)", count: 9).joined(separator: ", ")
            text += "\(name): &\(name) [\(aliases)]\n"
            previous = name
        }
        return text
    }()

    @Test
    func nestedAliasesInAManifestAreRefusedNotExpanded() {
        let contents = ManifestDecoder.decode(Data(Self.aliasBomb.utf8), file: "m/bomb.yaml", validator: { _ in [] })
        #expect(contents.objects.isEmpty)
        #expect(contents.errors.count == 1)
        #expect(contents.errors.first?.file == "m/bomb.yaml")
        #expect(contents.errors.first?.reason == .limitExceeded)
    }

    @Test
    func nestedAliasesInAKubeconfigAreRefusedNotExpanded() {
        let kubeconfig =
            "apiVersion: v1\nkind: Config\ncurrent-context: x\npreferences:\n"
            + Self.aliasBomb.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        guard case .failure(let error) = ManifestParser.documents(in: Data(kubeconfig.utf8), file: "/k/config") else {
            Issue.record("the alias bomb was expanded")
            return
        }
        #expect(error.file == "/k/config")
        #expect(error.reason == .limitExceeded)
    }
}
