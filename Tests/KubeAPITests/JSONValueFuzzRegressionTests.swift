import Foundation
import KubeAPI
import Testing

/// Inputs the API JSON fuzz target (Fuzz/Sources/fuzz-api-json) found, kept so the fixes stay
/// fixed. The target's property: decode → encode → decode gives an equal value.
struct JSONValueFuzzRegressionTests {
    /// The found input, minimised: `9223372036854775.0808` is not an exact integer, so it was
    /// kept as `.double(9223372036854776.0)`; the encoder writes that integral value back as
    /// `9.223372036854776e+15`, which decodes exactly as an `Int`, so the round trip turned
    /// `.double` into `.int`.
    @Test(arguments: [
        #"{"c":9223372036854775.0808}"#,
        #"{"a":[1,-2.5e50,true,null,"ce9annotatn"],"b":{"c":9223372036854775.0808,"d":1e300}}"#,
        #"[4503599627370496.5,-9007199254740993.7,1e19,-0.0,0.1]"#,
    ])
    func numbersKeepTheirCaseThroughARoundTrip(_ json: String) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let again = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        #expect(again == value)
    }

    @Test func aFractionalLiteralWithAnIntegralValueIsAnInteger() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"[9223372036854775.0808,1e19,80.5]"#.utf8))
        #expect(value == .array([.int(9_223_372_036_854_776), .double(1e19), .double(80.5)]))
    }
}
