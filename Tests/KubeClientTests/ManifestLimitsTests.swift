import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@testable import KubeClient

/// Hostile and accidental input: alias bombs, deep aliases, too many documents and reports. Each
/// is refused as one error naming the file, without expanding anything; ordinary anchors and
/// merge keys still work.
@Suite(.timeLimit(.minutes(1)))
struct ManifestLimitsTests {
    private func decode(_ text: String, file: String = "m/app.yaml", limits: ManifestLimits = ManifestLimits())
        -> ManifestFileContents
    {
        ManifestDecoder.decode(Data(text.utf8), file: file, validator: { _ in [] }, limits: limits)
    }

    static let billionLaughs = HostileInputs.billionLaughs

    @Test func theBillionLaughsDocumentIsRefusedNamingTheFileAndLine() {
        let contents = decode(serviceYAML() + "\n---\n" + Self.billionLaughs, file: "m/bomb.yaml")
        #expect(contents.errors.map(\.reason) == [.limitExceeded])
        #expect(
            contents.errors.map(\.description) == [
                "m/bomb.yaml: document 2: line 19, column 16: aliases expand to more than 1000000 nodes and scalar bytes; "
                    + "refused as a possible alias bomb"
            ])
    }

    /// Twenty levels: 10²⁰ nodes, beyond any machine, used as a mapping key and through a merge
    /// key. Composing it alone would already hash the key node by node, so this finishing at all
    /// shows the check runs before the YAML is composed.
    @Test(arguments: ["key: {? *t : 1}", "key: {<<: *t}", "key: [*t]"])
    func astronomicalExpansionsAreRefusedBeforeComposing(use: String) {
        var text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        let names = "abcdefghijklmnopqrst".map(String.init)
        for (previous, name) in zip(names, names.dropFirst()) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        let contents = decode(text + use + "\n")
        #expect(contents.errors.map(\.reason) == [.limitExceeded])
    }

    @Test func aliasesOfDeepNodesCannotStackPastTheNestingLimit() {
        let deep = String(repeating: "[", count: 900) + "x" + String(repeating: "]", count: 900)
        let deeper = String(repeating: "[", count: 900) + "*a" + String(repeating: "]", count: 900)
        let contents = decode("a: &a \(deep)\nb: \(deeper)\n")
        #expect(contents.errors.map(\.reason) == [.limitExceeded])
        #expect(contents.errors.first?.message.contains("nest deeper than 1000 levels") == true)
    }

    /// libyaml stops literal nesting at 1,000 levels, so 16 MiB of `[` is a syntax error, not a
    /// stack overflow in the recursive conversion.
    @Test(arguments: [(990, true), (5_000, false)])
    func literalNestingIsBoundedByTheParser(depth: Int, accepted: Bool) {
        let text = "a: " + String(repeating: "[", count: depth) + "x" + String(repeating: "]", count: depth) + "\n"
        switch ManifestParser.documents(in: Data(text.utf8), file: "a.yaml") {
        case .success: #expect(accepted)
        case .failure(let error): #expect(!accepted && error.reason == .syntax, "\(error)")
        }
    }

    /// An anchor of a 10-byte scalar costs 11 per alias (one node plus ten bytes).
    @Test(arguments: [(9, true), (10, false)])
    func expansionIsCountedAsNodesPlusScalarBytes(aliases: Int, accepted: Bool) {
        let text = "a: &a abcdefghij\nb: [" + Array(repeating: "*a", count: aliases).joined(separator: ", ") + "]\n"
        let parsed = ManifestParser.documents(in: Data(text.utf8), file: "a.yaml", limits: ManifestLimits(maxAliasExpansion: 100))
        switch parsed {
        case .success: #expect(accepted)
        case .failure(let error): #expect(!accepted && error.reason == .limitExceeded, "\(error)")
        }
    }

    @Test func ordinaryAnchorsAliasesAndMergeKeysWork() throws {
        let text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              labels: &labels {app: web, tier: front}
            spec:
              selector: *labels
              ports:
              - &http {name: http, port: 80, targetPort: 8080, protocol: TCP}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: web-1
              labels:
                <<: *labels
                kubernetes.io/service-name: web
                tier: back
            addressType: IPv4
            endpoints:
            - addresses: ["10.0.0.1"]
            ports:
            - <<: [*http, {name: ignored, appProtocol: http}]
              port: 8080
            """
        let contents = decode(text)
        #expect(contents.errors.isEmpty)
        guard case .service(let service) = contents.objects.first?.object,
            case .endpointSlice(let slice) = contents.objects.last?.object
        else {
            Issue.record("expected a Service and an EndpointSlice, got \(contents.objects)")
            return
        }
        #expect(service.spec?.selector == ["app": "web", "tier": "front"])
        #expect(service.metadata.labels == ["app": "web", "tier": "front"])
        #expect(slice.metadata.labels == ["app": "web", "tier": "back", "kubernetes.io/service-name": "web"])
        let port = try #require(slice.ports?.first)
        #expect(port.name == "http")
        #expect(port.port == 8080)
        #expect(port.appProtocol == "http")
    }

    @Test func aMergeKeyNeedsMappings() {
        let contents = decode("a: {<<: [1, 2]}\n")
        #expect(
            contents.errors.map(\.description) == [
                "m/app.yaml: document 1: line 1, column 10: << must merge a mapping or a list of mappings"
            ])
    }

    @Test func tooManyDocumentsRefuseTheFile() {
        let text = (1...4).map { serviceYAML("web-\($0)") }.joined(separator: "\n---\n")
        let contents = decode(text, limits: ManifestLimits(maxDocuments: 3))
        #expect(contents.errors.map(\.description) == ["m/app.yaml: more than 3 documents; refused"])
        #expect(decode(text, limits: ManifestLimits(maxDocuments: 4)).errors.isEmpty)
    }

    @Test func reportsPerFileAreCappedWithASummary() {
        let broken = Array(repeating: "kind: Service\napiVersion: v1\nmetadata: {}", count: 30).joined(separator: "\n---\n")
        let unsupported = Array(repeating: "kind: ConfigMap\napiVersion: v1\nmetadata: {name: c}", count: 25)
            .joined(separator: "\n---\n")
        let contents = decode(broken + "\n---\n" + unsupported)
        #expect(contents.errors.count == 21)
        #expect(contents.errors.last?.description == "m/app.yaml: 10 more errors in this file not shown")
        #expect(contents.warnings.count == 21)
        #expect(contents.warnings.last?.description == "m/app.yaml: 5 more warnings in this file not shown")
    }

    @Test func excerptsAreShortOneLineAndSayHowLongTheOriginalWas() {
        #expect(ManifestExcerpt.excerpt("web") == "web")
        #expect(ManifestExcerpt.excerpt("a\nb\r\tc\u{1B}[31md\u{7F}\u{202E}") == "a\\nb\\r\\tc\\u{1B}[31md\\u{7F}\\u{202E}")
        let long = String(repeating: "x", count: 100_000)
        #expect(ManifestExcerpt.excerpt(long) == String(repeating: "x", count: 200) + "…(100000 bytes)")
        #expect(
            ManifestExcerpt.excerpt(String(repeating: "\n", count: 150), limit: 10) == String(repeating: "\\n", count: 5) + "…(150 bytes)")
    }

    @Test func errorsQuotingTheManifestStayShortAndOnOneLine() {
        // A name with a newline, a screen-clearing escape and 400,000 more bytes, written with
        // YAML's double-quoted escapes, quoted back whole by the validator.
        let padding = String(repeating: "y", count: 400_000)
        let yamlName = "\"web\\n2026-01-01T00:00:00Z error forged line \\e[2J\(padding)\""
        let quoting: ManifestValidator = { object in
            let message = "\"\(object.metadata.name ?? "")\" is not valid"
            return [StatusCause(reason: "FieldValueInvalid", message: message, field: "metadata.name")]
        }
        let text = serviceYAML().replacingOccurrences(of: "name: web", with: "name: \(yamlName)")
        let contents = ManifestDecoder.decode(Data(text.utf8), file: "m/evil\nname.yaml", validator: quoting)
        let description = contents.errors.map(\.description).joined()
        #expect(contents.errors.count == 1)
        #expect(description.count < 1_200)
        #expect(!description.contains("\n") && !description.contains("\u{1B}"))
        #expect(
            description.hasPrefix(
                "m/evil\\nname.yaml: document 1 (Service default/web\\n2026-01-01T00:00:00Z error forged line \\u{1B}[2Jyyy"))
        #expect(description.contains("…(400"))
        #expect(contents.errors.first?.file == "m/evil\nname.yaml")
    }
}
