import Foundation
import KubeAPI
import KubeProxyTesting
import Testing

@testable import KubeClient

/// The byte-level JSON scanner and the decoder built on it, checked against `JSONDecoder`: what
/// the fast path answers must be what `JSONDecoder` answers, and what it cannot be sure of it
/// must leave to `JSONDecoder`.
@Suite struct JSONTapeTests {
    private func parse(_ text: String) throws(JSONSyntaxError) -> JSONTape {
        try JSONTape(parsing: Array(text.utf8))
    }

    private func value(_ text: String) throws -> JSONValue? {
        try parse(text).value(at: 0)
    }

    private func syntaxError(_ text: String) -> JSONSyntaxError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Valid documents

    @Test func scalarsAndContainersBecomeTheSameValuesAsWithJSONDecoder() throws {
        let documents = [
            #"null"#, #"true"#, #"false"#, #"0"#, #"-12"#, #""text""#,
            #"[]"#, #"{}"#, #" [1, "a", null, [true], {"k": {}}] "#,
            #"{"a": 1, "b": [-0, "x"], "c": {"d": "e"}}"#,
            "\t\r\n{\"ws\"\t:\n[ ]\r}\n",
            #"9223372036854775807"#, #"-9223372036854775808"#,
        ]
        for document in documents {
            let expected = try JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))
            #expect(try value(document) == expected, "\(document)")
        }
    }

    @Test func containerTokensSkipTheirWholeSubtree() throws {
        let tape = try parse(#"{"a": [1, {"b": [2, 3]}], "c": 4}"#)
        #expect(tape.tokens[0].count == 2)
        // object, key a, array, 1, object, key b, array, 2, 3, key c, 4
        #expect(tape.tokens.count == 11)
        #expect(tape.skip(0) == 11)
        #expect(tape.skip(2) == 9)
        #expect(tape.keyEquals(9, "c"))
        #expect(tape.integer(at: 10) == 4)
    }

    // MARK: - Strings

    @Test func escapesAndUnicodeDecodeAsWithJSONDecoder() throws {
        let documents = [
            #""quote \" backslash \\ slash \/ controls \b\f\n\r\t""#,
            #""\u0041\u00e9\u20AC""#,
            #""\ud83d\ude00 is 😀""#,
            #""caf\u00e9 and café""#,
            #""\u0000""#,
        ]
        for document in documents {
            let expected = try JSONDecoder().decode(String.self, from: Data(document.utf8))
            #expect(try value(document) == .string(expected), "\(document)")
        }
    }

    @Test func anEscapedKeyMatchesItsUnescapedName() throws {
        let tape = try parse(#"{"n\u0061me": 1}"#)
        #expect(tape.keyEquals(1, "name"))
        #expect(!tape.keyEquals(1, "nam"))
    }

    @Test func unpairedSurrogatesAreSyntaxErrors() {
        #expect(syntaxError(#""\ud800""#)?.reason == "unpaired high surrogate in a \\u escape")
        #expect(syntaxError(#""\ud800\u0041""#)?.reason == "unpaired high surrogate in a \\u escape")
        #expect(syntaxError(#""\udc00""#)?.reason == "unpaired low surrogate in a \\u escape")
        #expect(syntaxError(#""\ud800x""#)?.offset == 1)
    }

    @Test func invalidStringContentIsRefused() {
        #expect(syntaxError("\"a\u{01}b\"")?.reason == "unescaped control character byte 0x1 in a string")
        #expect(syntaxError(#""\x""#)?.reason == "invalid escape sequence '\\'x''")
        #expect(syntaxError(#""\u12G4""#)?.reason == "invalid \\u escape: four hexadecimal digits expected")
        #expect(syntaxError(#""abc"#)?.reason == "unterminated string")
        for bytes: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]] {
            let document = [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
            #expect(throws: JSONSyntaxError.self) { try JSONTape(parsing: document) }
            #expect((try? JSONDecoder().decode(String.self, from: Data(document))) == nil)
        }
    }

    // MARK: - Numbers

    @Test func numbersFollowTheJSONGrammar() {
        #expect(syntaxError("01")?.reason == "unexpected '1' after the document")
        #expect(syntaxError("-")?.reason == "expected a digit after '-'")
        #expect(syntaxError("1.")?.reason == "expected a digit after the decimal point")
        #expect(syntaxError("1e+")?.reason == "expected a digit in the exponent")
        #expect(syntaxError("+1")?.reason == "unexpected '+', expected a value")
        #expect(syntaxError(".5") != nil)
    }

    @Test func onlyPlainIntegersAreReadTheRestIsLeftToJSONDecoder() throws {
        let tape = try parse(#"[7, -0, 2.5, 1e400, 99999999999999999999, 12]"#)
        #expect(tape.integer(at: 1) == 7)
        #expect(tape.integer(at: 2) == 0)
        #expect(tape.integer(at: 3) == nil)
        #expect(tape.double(at: 3) == nil, "a fraction: JSONDecoder's own reading")
        #expect(tape.double(at: 4) == nil, "infinite")
        #expect(tape.integer(at: 5) == nil, "does not fit in Int")
        #expect(tape.double(at: 6) == 12)
        #expect(tape.value(at: 3) == nil)
        #expect(tape.value(at: 0) == nil, "an element is left to JSONDecoder, so the array is")
    }

    /// Found by fuzzing: `JSONDecoder` reads this as the integer -11111111111111111, where the
    /// route through `Double` gives -11111111111111112; the fast path must not answer.
    @Test func aFractionalLiteralIsNotGuessedAt() throws {
        let body = Array("-11111111111111111.11".utf8)
        #expect(JSONTapeDecoder.decode(JSONValue.self, from: body) == nil)
        #expect(try body.decodeJSON(JSONValue.self) == (try body.decodeWithFoundation(JSONValue.self)))
    }

    // MARK: - Structure

    @Test func malformedDocumentsNameTheOffsetAndWhatWasExpected() {
        #expect(syntaxError("") == JSONSyntaxError(offset: 0, reason: "unexpected end of input, expected a value"))
        #expect(syntaxError(#"{"a" 1}"#) == JSONSyntaxError(offset: 5, reason: "expected ':' after an object key"))
        #expect(syntaxError(#"{"a":1,}"#)?.reason == "unexpected '}', expected an object key")
        #expect(syntaxError("[1 2]") == JSONSyntaxError(offset: 3, reason: "unexpected '2', expected ',' or ']'"))
        #expect(syntaxError("[1,]")?.reason == "unexpected ']', expected a value")
        #expect(syntaxError(#"{"a":[}"#)?.reason == "unexpected '}', expected a value")
        #expect(syntaxError("[1") == JSONSyntaxError(offset: 2, reason: "unexpected end of input, expected ',' or ']'"))
        #expect(syntaxError("tru")?.reason == "unexpected end of input in 'true'")
        #expect(syntaxError("nul1")?.reason == "unexpected '1' in 'null'")
        #expect(syntaxError("{} {}")?.reason == "unexpected '{' after the document")
        #expect(syntaxError("{1:2}")?.reason == "unexpected '1', expected an object key")
        #expect(
            syntaxError("[\u{0B}]")?.description
                == "invalid JSON at byte 1: unexpected byte 0xb, expected a value")
    }

    @Test func nestingIsBoundedWithoutRecursion() throws {
        let limit = JSONTape.maximumDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try parse(deepest).tokens.count == limit)
        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(syntaxError(tooDeep) == JSONSyntaxError(offset: limit, reason: "nested deeper than 512 arrays and objects"))
        // Far deeper input fails at the limit too, instead of overflowing a stack.
        #expect(syntaxError(String(repeating: #"{"a":"#, count: 100_000))?.offset == limit * 5)
    }

    // MARK: - Decoding typed objects

    @Test func fixturesDecodeToWhatJSONDecoderDecodes() throws {
        try expectSame(Service.self, Array(Fixtures.data("core.v1.Service.json")))
        try expectSame(EndpointSlice.self, Array(Fixtures.data("discovery.k8s.io.v1.EndpointSlice.json")))
        try expectSame(Endpoints.self, Array(Fixtures.data("core.v1.Endpoints.json")))
        try expectSame(Status.self, Array(Fixtures.data("core.v1.Status.json")))
        try expectSame(WatchEvent<JSONValue>.self, Array(Fixtures.data("core.v1.WatchEvent.json")))
    }

    @Test func aListPageDecodesWithExactCapacities() throws {
        let page = Array(
            #"""
            {"kind":"EndpointSliceList","metadata":{"resourceVersion":"7","continue":"t"},"items":[
              {"metadata":{"name":"s","namespace":"n","labels":{"kubernetes.io/service-name":"svc"}},
               "addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],
               "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}},
                            {"addresses":["10.0.0.2"],"conditions":{"ready":false},"unknownField":[{"x":1}]}]}]}
            """#.utf8)
        let fast = try #require(JSONTapeDecoder.decode(ObjectList<EndpointSlice>.self, from: page))
        #expect(fast == (try page.decodeWithFoundation(ObjectList<EndpointSlice>.self)))
        #expect(fast.metadata?.resourceVersion == "7")
        #expect(fast.items[0].endpoints?.count == 2)
        #expect(fast.items[0].metadata.labels?["kubernetes.io/service-name"] == "svc")
    }

    @Test func targetPortIsIntOrString() throws {
        let named = Array(#"{"metadata":{"name":"a"},"spec":{"ports":[{"port":80,"targetPort":"http"}]}}"#.utf8)
        let numbered = Array(#"{"metadata":{"name":"a"},"spec":{"ports":[{"port":80,"targetPort":8080}]}}"#.utf8)
        try expectSame(Service.self, named)
        try expectSame(Service.self, numbered)
    }

    @Test func whatTheFastPathIsNotSureOfIsLeftToJSONDecoder() throws {
        let refused = [
            // A fractional literal for an integer field.
            #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":80.0}]}}"#,
            // A repeated key (which one JSONDecoder keeps is its business).
            #"{"metadata":{"name":"a","name":"b"}}"#,
            #"{"metadata":{"name":"a","labels":{"k":"1","k":"2"}}}"#,
            // Out of range for Int.
            #"{"metadata":{"name":"a"},"spec":{"ports":[{"port":99999999999999999999}]}}"#,
        ]
        for document in refused {
            #expect(JSONTapeDecoder.decode(Service.self, from: Array(document.utf8)) == nil, "\(document)")
        }
    }

    @Test func errorsStillComeFromJSONDecoderWithTheirFieldPath() {
        let line = Array(#"{"type":"ADDED","object":{"metadata":{"name":"a"},"spec":{"ports":[{"port":"x"}]}}}"#.utf8)
        guard case .failure(let failure) = DecodedWatchEvent<Service>.decode(line) else {
            Issue.record("a string port decoded")
            return
        }
        #expect(failure.description.hasPrefix("at object.spec.ports[0].port:"))
        let broken = Array(#"{"type":"ADDED","object":{"#.utf8)
        #expect(JSONTapeDecoder.decode(DecodedWatchEvent<Service>.self, from: broken) == nil)
        guard case .failure = DecodedWatchEvent<Service>.decode(broken) else {
            Issue.record("a truncated line decoded")
            return
        }
    }

    @Test func watchEventsDecodeByType() throws {
        let bookmark = Array(#"{"type":"BOOKMARK","object":{"kind":"Service","metadata":{"resourceVersion":"12"}}}"#.utf8)
        guard case .bookmark(let version) = JSONTapeDecoder.decode(DecodedWatchEvent<Service>.self, from: bookmark)
        else {
            Issue.record("not a bookmark")
            return
        }
        #expect(version == "12")
        let error = Array(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}"#.utf8)
        guard case .error(let status) = JSONTapeDecoder.decode(DecodedWatchEvent<Service>.self, from: error) else {
            Issue.record("not an error")
            return
        }
        #expect(status.code == 410)
    }

    private func expectSame<T: Decodable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) throws {
        let fast = JSONTapeDecoder.decode(type, from: bytes)
        #expect(fast != nil, "\(T.self) was left to JSONDecoder")
        #expect(fast == (try bytes.decodeWithFoundation(type)))
    }
}
