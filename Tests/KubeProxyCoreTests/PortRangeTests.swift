import KubeProxyCore
import Testing

@Suite("PortRange")
struct PortRangeTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var text: String
        var first: Int
        var last: Int
        var testDescription: String { "\"\(text)\" → \(first)-\(last)" }
    }

    @Test(arguments: [
        Valid(text: "30000-30100", first: 30000, last: 30100),
        Valid(text: "30000", first: 30000, last: 30000),
        Valid(text: "30000+100", first: 30000, last: 30100),
        Valid(text: "30000+0", first: 30000, last: 30000),
        Valid(text: "1-1", first: 1, last: 1),
        Valid(text: "1-65535", first: 1, last: 65535),
        Valid(text: "65535", first: 65535, last: 65535),
        Valid(text: "  2000-2002 \n", first: 2000, last: 2002),
        Valid(text: "65000+535", first: 65000, last: 65535),
    ])
    func parsesRanges(_ valid: Valid) throws {
        let range = try #require(try PortRange.parse(valid.text))
        #expect(range.first == valid.first)
        #expect(range.last == valid.last)
        #expect(range.count == valid.last - valid.first + 1)
    }

    @Test("kernel-picks spellings parse to nil", arguments: ["", "   ", "0", "0-0", "0+0", "0-100"])
    func kernelPicks(_ text: String) throws {
        #expect(try PortRange.parse(text) == nil)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var text: String
        var reason: PortRangeError.Reason
        var testDescription: String { "\"\(text)\"" }
    }

    @Test(arguments: [
        Invalid(text: "abc", reason: .notANumber("abc")),
        Invalid(text: "100-", reason: .notANumber("")),
        Invalid(text: "-100", reason: .notANumber("")),
        Invalid(text: "100+", reason: .notANumber("")),
        Invalid(text: "10 - 20", reason: .notANumber("10 ")),
        Invalid(text: "1-2-3", reason: .notANumber("2-3")),
        Invalid(text: "1x-20", reason: .notANumber("1x")),
        Invalid(text: "100+-5", reason: .mixedNotation),
        Invalid(text: "65536", reason: .portTooLarge(65536)),
        Invalid(text: "65000-70000", reason: .portTooLarge(70000)),
        Invalid(text: "65535+1", reason: .portTooLarge(65536)),
        Invalid(text: "99999999999999999999999", reason: .portTooLarge(Int.max)),
        Invalid(text: "1+9223372036854775807", reason: .portTooLarge(Int.max)),
        Invalid(text: "200-100", reason: .endBeforeStart(start: 200, end: 100)),
    ])
    func rejectsInvalidValues(_ invalid: Invalid) {
        #expect(throws: PortRangeError(value: invalid.text, reason: invalid.reason)) {
            try PortRange.parse(invalid.text)
        }
    }

    @Test func errorDescriptionNamesValueAndProblem() {
        let cases: [(String, String)] = [
            ("200-100", "end port 100 is less than start port 200"),
            ("70000", "port 70000 is greater than 65535"),
            ("http", "\"http\" is not a port number"),
        ]
        for (text, problem) in cases {
            do {
                _ = try PortRange.parse(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.description == "invalid port range \"\(text)\": \(problem)")
            }
        }
    }

    @Test func initializerRejectsRangesThatParseCannotProduce() {
        #expect(throws: PortRangeError(value: "0-10", reason: .startsAtZero)) {
            try PortRange(first: 0, last: 10)
        }
        #expect(throws: PortRangeError(value: "10-9", reason: .endBeforeStart(start: 10, end: 9))) {
            try PortRange(first: 10, last: 9)
        }
    }

    @Test(arguments: ["1-1", "30000-30100", "65535"])
    func descriptionRoundTrips(_ text: String) throws {
        let range = try #require(try PortRange.parse(text))
        #expect(try PortRange.parse(range.description) == range)
    }

    @Test func containsIsInclusive() throws {
        let range = try PortRange(first: 10, last: 12)
        #expect([9, 10, 11, 12, 13].map(range.contains) == [false, true, true, true, false])
    }
}
