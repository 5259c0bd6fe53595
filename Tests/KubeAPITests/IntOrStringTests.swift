import Foundation
import KubeAPI
import Testing

@Suite struct IntOrStringTests {
    struct Box: Codable, Equatable {
        var value: IntOrString
    }

    @Test(arguments: [
        (#"{"value":8080}"#, IntOrString.int(8080)),
        (#"{"value":"http"}"#, IntOrString.string("http")),
        (#"{"value":"8080"}"#, IntOrString.string("8080")),
    ])
    func decodesAndReencodesTheSameJSONKind(json: String, expected: IntOrString) throws {
        let box = try JSONDecoder().decode(Box.self, from: Data(json.utf8))
        #expect(box.value == expected)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(box), as: UTF8.self) == json)
    }

    @Test(arguments: [#"{"value":true}"#, #"{"value":[1]}"#, #"{"value":null}"#])
    func rejectsOtherKinds(json: String) {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Box.self, from: Data(json.utf8))
        }
    }

    @Test func describesBothForms() {
        #expect(IntOrString.int(53).description == "53")
        #expect(IntOrString.string("dns").description == "dns")
    }
}
