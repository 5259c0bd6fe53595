import KubeAPI
import Testing

@testable import KubeClient

@Suite struct LogExcerptTests {
    @Test func controlCharactersAreEscapedSoTheyCannotForgeLogLinesOrDriveATerminal() {
        #expect(LogExcerpt.quote("a\nb\r\tc\u{1B}[31mred\u{7F}\u{85}") == #"a\nb\r\tc\u{1B}[31mred\u{7F}\u{85}"#)
    }

    @Test func longTextIsCutAndTheCutSaysHowMuchWasLeftOut() {
        let text = String(repeating: "x", count: 1000)
        #expect(LogExcerpt.quote(text) == String(repeating: "x", count: 200) + "…(800 more characters)")
        #expect(LogExcerpt.quote("short") == "short")
        #expect(LogExcerpt.quote("café ✓", limit: 4) == "café…(2 more characters)")
    }

    @Test func bytesAreDecodedOnlyAsFarAsTheExcerptNeeds() {
        let body = [UInt8](repeating: UInt8(ascii: "y"), count: 10 << 20)
        let excerpt = LogExcerpt.quote(bytes: body)
        #expect(excerpt == String(repeating: "y", count: 200) + "…(\(10 << 20) bytes in all)")
        #expect(LogExcerpt.quote(bytes: Array("<html>\nBad\n</html>".utf8)) == #"<html>\nBad\n</html>"#)
        #expect(LogExcerpt.quote(bytes: [0xFF, 0x41]) == "\u{FFFD}A")
    }

    @Test func aStatusMessageFromTheServerIsQuotedShortAndEscaped() {
        let status = Status(message: String(repeating: "m", count: 5000) + "\n", reason: "Bad\nReason", code: 500)
        let text = "\(status.error(url: "https://h/api", fallbackCode: 500))"
        #expect(text.count < 400)
        #expect(!text.contains("\n"))
        #expect(text.hasPrefix(#"GET https://h/api: 500 Bad\nReason: mmm"#))
    }
}
