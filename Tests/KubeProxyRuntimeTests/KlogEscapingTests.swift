import Logging
import Testing

@testable import KubeProxyRuntime

/// Log lines cannot be forged: whatever a manifest or the API puts in a name or field, one log
/// call prints exactly one line and no raw terminal escape.
struct KlogEscapingTests {
    private static let hostile = "web\nI1127 18:00:00.000000 1 proxier] forged line\u{1B}[2J\r"

    private func format(message: String, metadata: Logger.Metadata) -> String {
        KlogHandler.format(level: .info, label: "proxier", message: message, metadata: metadata, now: "1127 18:00:00.000000")
    }

    private func assertOneCleanLine(_ line: String) {
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        #expect(line.contains("\r") == false)
        #expect(line.unicodeScalars.contains("\u{1B}") == false)
    }

    @Test func hostileMetadataValueStaysOnOneQuotedLine() {
        let line = format(message: "service port started", metadata: ["servicePort": .string(Self.hostile)])
        assertOneCleanLine(line)
        #expect(
            line.hasSuffix(
                #" proxier] service port started servicePort="web\nI1127 18:00:00.000000 1 proxier] forged line\x1b[2J\r""#
                    + "\n"))
    }

    @Test func hostileMessageIsEscapedButNotQuoted() {
        let line = format(message: "deleted \(Self.hostile) \"quoted\" back\\slash", metadata: [:])
        assertOneCleanLine(line)
        #expect(
            line.hasSuffix(
                #" proxier] deleted web\nI1127 18:00:00.000000 1 proxier] forged line\x1b[2J\r "quoted" back\slash"#
                    + "\n"))
    }

    @Test func nestedValuesAndKeysAreEscapedToo() {
        let line = format(
            message: "m",
            metadata: [
                "list": .array([.string("a\nb"), .stringConvertible(2)]),
                "map": .dictionary(["k\u{1B}": .string("v\u{1B}]0;title\u{07}")]),
                "key\nforged": "x",
            ])
        assertOneCleanLine(line)
        #expect(line.contains(#"key\nforged="x""#))
        #expect(line.contains(#"list=["a\nb",2]"#))
        #expect(line.contains(#"map={k\x1b="v\x1b]0;title\a"}"#))
    }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("", #""""#),
        (#"say "hi" \ bye"#, #""say \"hi\" \\ bye""#),
        ("a \"b\"\nc", #""a \"b\"\nc""#),
        ("tab\there", #""tab\there""#),
        ("del\u{7F}", #""del\x7f""#),
        ("c1\u{85}", #""c1\u0085""#),
        ("line\u{2028}sep", #""line\u2028sep""#),
        ("bidi\u{202E}txt", #""bidi\u202etxt""#),
        ("café ünï", #""café ünï""#),
    ])
    func quoteFollowsGoPercentQ(_ input: String, _ expected: String) {
        #expect(KlogHandler.quote(input) == expected)
    }

    @Test func numbersStayBare() {
        let line = format(message: "m", metadata: ["endpoints": "2", "ratio": "-0.5", "version": "1.2.3"])
        #expect(line.contains(" endpoints=2 ratio=-0.5 version=\"1.2.3\""))
    }

    @Test(arguments: [
        ("0", true), ("10000", true), ("-3", true), ("1.5", true), ("-0.25", true),
        ("", false), ("-", false), (".5", false), ("-.5", false), ("1.2.3", false), ("1e3", false),
        ("12a", false), (" 1", false), ("١٢", false), ("1\u{301}", false),
    ])
    func numberRecognition(_ input: String, _ bare: Bool) {
        #expect(KlogHandler.isNumber(input) == bare)
    }
}
