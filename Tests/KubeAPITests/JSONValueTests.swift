import Foundation
import KubeAPI
import Testing

@Suite struct JSONValueTests {
    @Test func decodesEveryKindOfValue() throws {
        let json = #"{"n":null,"b":false,"i":-3,"d":1.5,"s":"x","a":[1,"y"],"o":{"k":true}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        #expect(
            value
                == .object([
                    "n": .null, "b": .bool(false), "i": .int(-3), "d": .double(1.5), "s": .string("x"),
                    "a": .array([.int(1), .string("y")]), "o": .object(["k": .bool(true)]),
                ]))
    }

    @Test func reencodesToEqualJSON() throws {
        let json = #"{"a":[1,2.25,"three",null,true],"big":9007199254740993}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let again = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        #expect(again == value)
        #expect(value["big"] == .int(9_007_199_254_740_993))
    }

    @Test func subscriptAndStringValueOnlyApplyToTheirKinds() {
        let value = JSONValue.object(["kind": .string("Service")])
        #expect(value["kind"]?.stringValue == "Service")
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([])["kind"] == nil)
        #expect(JSONValue.int(1).stringValue == nil)
    }
}
