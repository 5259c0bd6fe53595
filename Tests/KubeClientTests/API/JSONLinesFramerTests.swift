import Testing

@testable import KubeClient

@Suite struct JSONLinesFramerTests {
    /// Three events as the API server writes them, with a multi-byte character, a CRLF and a
    /// blank line thrown in.
    static let events = [
        #"{"type":"ADDED","object":{"metadata":{"name":"café","resourceVersion":"1"}}}"#,
        #"{"type":"MODIFIED","object":{"metadata":{"name":"b","resourceVersion":"2"}}}"#,
        #"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"3"}}}"#,
    ]
    static let stream = Array((events[0] + "\n" + events[1] + "\r\n\n" + events[2] + "\n").utf8)

    @Test(arguments: 0...stream.count)
    func everySplitPointYieldsTheSameLines(split: Int) {
        var framer = JSONLinesFramer()
        var lines = framer.append(Self.stream[..<split])
        lines += framer.append(Self.stream[split...])
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == Self.events)
        #expect(!framer.hasPartialLine)
    }

    @Test func byteAtATimeYieldsTheSameLines() {
        var framer = JSONLinesFramer()
        var lines: [[UInt8]] = []
        for byte in Self.stream { lines += framer.append([byte]) }
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == Self.events)
    }

    @Test func aLineIsReturnedOnlyOnceItsNewlineArrives() {
        var framer = JSONLinesFramer()
        #expect(framer.append(Array(#"{"type":"ADDED""#.utf8)).isEmpty)
        #expect(framer.hasPartialLine)
        let lines = framer.append(Array("}\n{".utf8))
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == [#"{"type":"ADDED"}"#])
        #expect(framer.hasPartialLine)
    }

    @Test func trailingWhitespaceIsNotAPartialLine() {
        var framer = JSONLinesFramer()
        _ = framer.append(Array("{}\n  \r".utf8))
        #expect(!framer.hasPartialLine)
    }

    @Test func resetDropsAPartialLine() {
        var framer = JSONLinesFramer()
        _ = framer.append(Array("{\"half".utf8))
        framer.reset()
        #expect(!framer.hasPartialLine)
        #expect(framer.append(Array("{}\n".utf8)) == [Array("{}".utf8)])
    }
}
