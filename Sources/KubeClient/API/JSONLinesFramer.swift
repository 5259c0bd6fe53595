/// Cuts a watch body into complete JSON lines, whatever the chunking, and refuses lines above a
/// size limit.
///
/// The API server writes one JSON object per watch event, newline-terminated (Go's JSON
/// encoder), but HTTP chunks, TLS records and socket reads split them anywhere: inside a
/// string, inside a multi-byte UTF-8 character, between `\r` and `\n`. The framer buffers the
/// tail and returns only whole lines, so the decoder never sees half an event.
///
/// Guarantees: the concatenation of the chunks, split on `\n`, minus blank lines and a trailing
/// `\r` per line, is exactly the sequence of lines returned over all calls. A final line without
/// its `\n` stays in the buffer; ``hasPartialLine`` tells the caller that the stream ended in
/// the middle of an event (an abnormal close, not a clean end).
///
/// **Memory bound.** A line (complete or still arriving) longer than ``maximumLineBytes`` makes
/// ``append(_:)`` throw ``LineTooLong`` and empties the framer, so one endless line costs at most
/// about the limit plus one chunk, never the whole stream. Consumed bytes are released by
/// replacing the buffer rather than shrinking it in place (which would keep its largest capacity
/// for the life of the watcher).
struct JSONLinesFramer: Sendable {
    /// A line exceeded the limit; the framer has been emptied.
    struct LineTooLong: Error, Sendable, Hashable {
        /// The limit that was exceeded, in bytes.
        var limit: Int
    }

    /// The longest line accepted, in bytes (without its terminator).
    let maximumLineBytes: Int
    private var buffer: [UInt8] = []
    /// Where the next search for `\n` starts (everything before it has none).
    private var scanned = 0

    /// Creates an empty framer accepting lines up to `maximumLineBytes` (by default
    /// ``APILimits/watchEventBytes``, 16 MiB).
    init(maximumLineBytes: Int = APILimits().watchEventBytes) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// Adds `chunk` and returns the lines it completed, in order, without their terminators.
    ///
    /// - Throws: ``LineTooLong`` when a completed line, or the unfinished one, is longer than
    ///   ``maximumLineBytes``; the framer is then empty (lines completed earlier in the same
    ///   chunk are dropped too: the stream is abandoned anyway).
    mutating func append(_ chunk: some Sequence<UInt8>) throws(LineTooLong) -> [[UInt8]] {
        buffer.append(contentsOf: chunk)
        var lines: [[UInt8]] = []
        var lineStart = 0
        var index = scanned
        while index < buffer.count {
            if buffer[index] == UInt8(ascii: "\n") {
                var end = index
                if end > lineStart, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                guard end - lineStart <= maximumLineBytes else { throw overflow() }
                let line = buffer[lineStart..<end]
                if line.contains(where: { !Self.isWhitespace($0) }) { lines.append(Array(line)) }
                lineStart = index + 1
            }
            index += 1
        }
        // A pending `\r` may still be dropped when its `\n` arrives, hence the one byte of slack.
        guard buffer.count - lineStart <= maximumLineBytes + 1 else { throw overflow() }
        if lineStart > 0 { buffer = Array(buffer[lineStart...]) }
        scanned = buffer.count
        return lines
    }

    /// Whether bytes other than whitespace are waiting for a `\n`: at the end of a stream this
    /// means the last event was cut off.
    var hasPartialLine: Bool {
        buffer.contains { !Self.isWhitespace($0) }
    }

    /// Bytes held for the unfinished line (for tests and diagnostics).
    var bufferedBytes: Int { buffer.count }

    /// Bytes of memory the buffer holds on to (for tests: it must shrink after a long line).
    var bufferCapacity: Int { buffer.capacity }

    /// Forgets any buffered bytes and frees their memory (a new stream starts).
    mutating func reset() {
        buffer = []
        scanned = 0
    }

    private mutating func overflow() -> LineTooLong {
        reset()
        return LineTooLong(limit: maximumLineBytes)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }
}
