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
    func everySplitPointYieldsTheSameLines(split: Int) throws {
        var framer = JSONLinesFramer()
        var lines = try framer.append(Self.stream[..<split])
        lines += try framer.append(Self.stream[split...])
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == Self.events)
        #expect(!framer.hasPartialLine)
    }

    @Test func byteAtATimeYieldsTheSameLines() throws {
        var framer = JSONLinesFramer()
        var lines: [[UInt8]] = []
        for byte in Self.stream { lines += try framer.append([byte]) }
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == Self.events)
    }

    @Test func aLineIsReturnedOnlyOnceItsNewlineArrives() throws {
        var framer = JSONLinesFramer()
        #expect(try framer.append(Array(#"{"type":"ADDED""#.utf8)).isEmpty)
        #expect(framer.hasPartialLine)
        let lines = try framer.append(Array("}\n{".utf8))
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == [#"{"type":"ADDED"}"#])
        #expect(framer.hasPartialLine)
    }

    @Test func trailingWhitespaceIsNotAPartialLine() throws {
        var framer = JSONLinesFramer()
        _ = try framer.append(Array("{}\n  \r".utf8))
        #expect(!framer.hasPartialLine)
    }

    @Test func resetDropsAPartialLine() throws {
        var framer = JSONLinesFramer()
        _ = try framer.append(Array("{\"half".utf8))
        framer.reset()
        #expect(!framer.hasPartialLine)
        #expect(try framer.append(Array("{}\n".utf8)) == [Array("{}".utf8)])
    }

    // MARK: - Size limit

    @Test func aLineAtTheLimitPassesEvenWithACarriageReturn() throws {
        var framer = JSONLinesFramer(maximumLineBytes: 8)
        #expect(try framer.append(Array("12345678\r".utf8)).isEmpty)
        #expect(try framer.append(Array("\n".utf8)) == [Array("12345678".utf8)])
    }

    @Test func aCompleteLineOverTheLimitThrowsAndEmptiesTheFramer() throws {
        var framer = JSONLinesFramer(maximumLineBytes: 8)
        #expect(throws: JSONLinesFramer.LineTooLong(limit: 8)) {
            try framer.append(Array("{}\n123456789\n{}\n".utf8))
        }
        #expect(framer.bufferedBytes == 0)
        #expect(!framer.hasPartialLine)
        #expect(try framer.append(Array("{\"a\":1}\n".utf8)) == [Array(#"{"a":1}"#.utf8)])
    }

    @Test func anEndlessLineIsRefusedOnceItPassesTheLimitAndItsMemoryIsFreed() throws {
        var framer = JSONLinesFramer(maximumLineBytes: 1 << 20)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
        var accepted = 0
        var refused: JSONLinesFramer.LineTooLong?
        for _ in 0..<100 {
            do {
                _ = try framer.append(chunk)
                accepted += chunk.count
            } catch {
                refused = error
                break
            }
        }
        #expect(refused == JSONLinesFramer.LineTooLong(limit: 1 << 20))
        // Refused with the first chunk past the limit, not after buffering the whole stream.
        #expect(accepted == 1 << 20)
        #expect(framer.bufferedBytes == 0)
        #expect(framer.bufferCapacity == 0)
        #expect(try framer.append(Array("{}\n".utf8)) == [Array("{}".utf8)])
    }

    @Test func aLongLineDoesNotLeaveItsCapacityBehind() throws {
        var framer = JSONLinesFramer(maximumLineBytes: 4 << 20)
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 3 << 20)
        for start in stride(from: 0, to: long.count, by: 64 << 10) {
            #expect(try framer.append(long[start..<min(start + (64 << 10), long.count)]).isEmpty)
        }
        #expect(framer.bufferCapacity >= 3 << 20)
        let lines = try framer.append(Array("\n{\"next\"".utf8))
        #expect(lines.map(\.count) == [3 << 20])
        #expect(framer.bufferedBytes == 7)
        #expect(framer.bufferCapacity < 1 << 10)
    }
}
