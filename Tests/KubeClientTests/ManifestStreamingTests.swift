import Foundation
import KubeAPI
import Testing

@testable import KubeClient

/// The fast manifest path (documents built from libyaml events, objects decoded from the
/// `JSONValue` tree) must mean exactly what the composing path (Yams nodes, JSON text,
/// `JSONDecoder`) means, and hand everything else to it.
@Suite struct ManifestStreamingTests {
    /// The documents the fast path builds, or `nil` when it hands the file over.
    private func streamed(_ text: String) -> [JSONValue]? {
        var documents: [JSONValue] = []
        let complete = ManifestParser.streamDocuments(in: Data(text.utf8), maxDocuments: 10) { documents.append($0) }
        return complete ? documents : nil
    }

    private func composed(_ text: String) -> [JSONValue]? {
        try? ManifestParser.documents(in: Data(text.utf8), file: "m/a.yaml", limits: ManifestLimits(maxDocuments: 10))
            .get()
    }

    /// Spellings around every rule of Yams' default resolver (bool, int in all bases and
    /// sexagesimal, float, null, merge, timestamp) and their near misses.
    static let scalars = [
        "", "~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRue", "yes", "Yes", "YES", "yEs", "no",
        "No", "on", "ON", "off", "Off", "y", "n", "0", "+0", "-0", "00", "07", "08", "0o17", "0o8", "0b101",
        "-0b101", "0b102", "0x1F", "-0x1f", "0xg", "1_000", "1__0", "1_", "_1", "1:30", "-1:30", "+1:30", "1:60",
        "1:5:7", "190:20:30", "0:30", "1:030", "1.5", "1.", ".5", "-.5", "+.5", "1e3", "1E+3", "1e-3", "1e", "1e+",
        ".5e+3", ".5e3", "1:30.5", "-1:30.5", "1:30.", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "-.nan", "1.2.3",
        "10.0.0.1", "198.18.3.239", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "123456789012345678", "1234567890123456789", "80", "8080", "-80", "+80", "abc", "<<", "=", "2001-12-14",
        "2001-12-14t21:59:43.10-05:00", "0x_", "0b", "0o", "0x", "0.0", "-0.0", "3:25:45", "1_2:3", "0_7", "0.5_5",
        "12e", "v1", "1Gi", "100m", "::1", "fe80::1", "1:2:3:4", "x:1",
    ]

    /// Sexagesimal integers Yams itself would trap on (it multiplies without overflow checks;
    /// found by fuzzing): too large for `Int`, so they stay text on both paths.
    @Test(arguments: ["9223372036854775530:8", "-9223372036854775530:8", "1:0:0:0:0:0:0:0:0:0:0:0:0", "153722867280912930:8"])
    func sexagesimalIntegersTooLargeStayText(_ scalar: String) throws {
        let text = "v: \(scalar)\n"
        #expect(streamed(text) == composed(text))
        #expect(streamed(text) == [.object(["v": .string(scalar)])])
    }

    @Test func sexagesimalIntegersThatFitAreNumbers() {
        #expect(streamed("v: 190:20:30\n") == [.object(["v": .int(685_230)])])
        #expect(streamed("v: -1:30\n") == [.object(["v": .int(-90)])])
        // Yams would overflow its running base (60^11) here although the value fits.
        let large = "v: 1_0:0:0:0:0:0:0:0:0:0:0\n"
        #expect(composed(large) == [.object(["v": .int(6_046_617_600_000_000_000)])])
        #expect(streamed(large) == composed(large))
    }

    @Test(arguments: scalars)
    func plainScalarsResolveAsYamsResolvesThem(_ scalar: String) {
        let text = "v: \(scalar)\n"
        guard let reference = composed(text) else {
            #expect(streamed(text) == nil, "Yams refuses \(text.debugDescription); the fast path must hand it over")
            return
        }
        let fast = streamed(text)
        if let fast {
            #expect(fast == reference, "\(scalar.debugDescription)")
        } else {
            // Handing over is always correct; only the spellings Yams treats specially may.
            #expect(["<<", ".inf", "-.Inf", "+.INF", ".nan", ".NaN"].contains(scalar), "\(scalar.debugDescription)")
        }
    }

    @Test func ordinaryManifestsBuildTheSameDocuments() throws {
        let text = """
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              labels: {app: web, "tier": 'front', n: 1, b: yes}
              annotations:
                note: |
                  two
                  lines
                folded: >
                  one
                  line
            spec:
              clusterIP: 10.96.0.10
              ports:
              - {name: http, port: 80, targetPort: "8080"}
              - name: dns
                port: 53
                protocol: UDP
                targetPort: dns
              selector:
            ---
            ---
            # only a comment
            ---
            - [1, 2.5, "3", ~, true]
            - plain text
            - ''
            """
        let reference = try #require(composed(text))
        #expect(streamed(text) == reference)
        #expect(reference.count == 4)
    }

    @Test(arguments: [
        "a: &x 1\nb: *x\n",  // alias
        "base: &b {p: 1}\nm:\n  <<: *b\n",  // merge key with an alias
        "m:\n  <<: {p: 1}\n  q: 2\n",  // merge key
        "v: !!str 80\n",  // explicit tag
        "v: !custom x\n",
        "!!map {a: 1}\n",
        "a: 1\na: 2\n",  // repeated key
        "1: a\n\"1\": b\n",
        "? [a]\n: b\n",  // a key that is not a scalar
        "a: [1\n",  // syntax error
        "a: \"*\"\n",  // a star anywhere hands over (it could be an alias)
    ])
    func theUnusualIsHandedToTheComposingPath(_ text: String) {
        #expect(streamed(text) == nil)
    }

    @Test func tooManyDocumentsAreHandedOver() {
        var documents: [JSONValue] = []
        let text = String(repeating: "---\na: 1\n", count: 3)
        #expect(!ManifestParser.streamDocuments(in: Data(text.utf8), maxDocuments: 2) { documents.append($0) })
        #expect(ManifestParser.streamDocuments(in: Data(text.utf8), maxDocuments: 3) { documents.append($0) })
    }

    @Test func handedOverFilesKeepTheComposingPathsResults() {
        let merged = """
            kind: ConfigMap
            base: &base {name: web, namespace: shop}
            ---
            apiVersion: v1
            kind: Service
            metadata:
              <<: *base
            spec: {ports: [{port: 80}]}
            """
        let contents = ManifestDecoder.decode(Data(merged.utf8), file: "m/a.yaml", validator: { _ in [] })
        #expect(contents.errors.isEmpty)
        #expect(contents.warnings.map(\.reason) == [.unsupportedKind])
        #expect(contents.objects.map(\.object.key.name) == ["web"])
        #expect(contents.objects.map(\.document) == [2])
        let duplicate = ManifestDecoder.decode(Data("a: 1\na: 2\n".utf8), file: "m/a.yaml", validator: { _ in [] })
        #expect(duplicate.errors.map(\.reason) == [.syntax])
        #expect(duplicate.errors.first?.message.contains("duplicate keys") == true)
    }

    @Test func objectsDecodeFromTheTreeAsJSONDecoderDecodesThem() throws {
        let text = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [{name: http, port: 8080, protocol: TCP}]
            endpoints:
            - addresses: [10.0.0.1]
              conditions: {ready: true, serving: true, terminating: false}
              nodeName: n1
              hints: {forZones: [{name: a}]}
            """
        let document = try #require(composed(text)?.first)
        let fast = try JSONValueDecoder.decode(EndpointSlice.self, from: document)
        let reference = try JSONDecoder().decode(EndpointSlice.self, from: JSONEncoder().encode(document))
        #expect(fast == reference)
        #expect(fast.endpoints?.first?.hints?.forZones?.first?.name == "a")
    }

    @Test(arguments: [
        #"{"metadata": {"name": "a"}, "spec": {"ports": [{"port": "80"}]}}"#,  // a string for an integer
        #"{"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80.5}]}}"#,  // a fraction for an integer
        #"{"metadata": null, "spec": {}}"#,  // null for a required object
        #"{"spec": {}}"#,  // a required key missing
        #"{"metadata": {"name": "a"}, "spec": {"ports": {"port": 80}}}"#,  // an object for a list
        #"{"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80, "targetPort": true}]}}"#,
        #"{"metadata": {"name": "a"}, "spec": {"publishNotReadyAddresses": 1}}"#,
    ])
    func theFastDecoderNeverAcceptsMoreThanJSONDecoder(_ json: String) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let reference = try? JSONDecoder().decode(Service.self, from: Data(json.utf8))
        let fast = try? JSONValueDecoder.decode(Service.self, from: value)
        #expect(reference == nil)
        #expect(fast == nil)
    }
}
