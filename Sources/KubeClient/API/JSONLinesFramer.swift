/// Cuts a watch body into complete JSON lines, whatever the chunking.
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
struct JSONLinesFramer: Sendable {
    private var buffer: [UInt8] = []
    /// Where the next search for `\n` starts (everything before it has none).
    private var scanned = 0

    /// Creates an empty framer.
    init() {}

    /// Adds `chunk` and returns the lines it completed, in order, without their terminators.
    mutating func append(_ chunk: some Sequence<UInt8>) -> [[UInt8]] {
        buffer.append(contentsOf: chunk)
        var lines: [[UInt8]] = []
        var lineStart = 0
        var index = scanned
        while index < buffer.count {
            if buffer[index] == UInt8(ascii: "\n") {
                var end = index
                if end > lineStart, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = buffer[lineStart..<end]
                if line.contains(where: { !Self.isWhitespace($0) }) { lines.append(Array(line)) }
                lineStart = index + 1
            }
            index += 1
        }
        if lineStart > 0 { buffer.removeFirst(lineStart) }
        scanned = buffer.count
        return lines
    }

    /// Whether bytes other than whitespace are waiting for a `\n`: at the end of a stream this
    /// means the last event was cut off.
    var hasPartialLine: Bool {
        buffer.contains { !Self.isWhitespace($0) }
    }

    /// Forgets any buffered bytes (a new stream starts).
    mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        scanned = 0
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }
}
