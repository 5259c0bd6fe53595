import KubeAPI

@testable import KubeClient

/// libFuzzer entry point for the watch stream framer (`JSONLinesFramer`) and the watch-line
/// decoder behind it.
///
/// The first byte seeds how the rest is cut into chunks (1–17 bytes, as a socket might deliver
/// it) and, when its high bit is set, sets a small line limit (its low 7 bits) so the overflow
/// path runs too. The framer's documented guarantees are checked against a direct computation
/// on the whole input: it throws exactly when a line (without its `\r`) exceeds the limit or the
/// unfinished tail exceeds it by more than the pending `\r`, and is empty afterwards; otherwise
/// the lines returned over all chunks are the input split on `\n`, minus blank lines and one
/// trailing `\r` each, without the unterminated tail, and `hasPartialLine` says whether that
/// tail holds anything but whitespace. Every line is then decoded as a watch event.
@_cdecl("LLVMFuzzerTestOneInput")
public func watchFramerFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var framer = data[0] & 0x80 != 0 ? JSONLinesFramer(maximumLineBytes: Int(data[0] & 0x7F)) : JSONLinesFramer()
    let limit = framer.maximumLineBytes
    let reference = Reference(body)
    let tooLong = reference.segments.contains { $0.count > limit } || reference.tail.count > limit + 1
    var state = UInt32(data[0]) &* 2_654_435_761 | 1
    var lines: [[UInt8]] = []
    var offset = 0
    do {
        while offset < body.count {
            state = state &* 1_103_515_245 &+ 12_345
            let length = min(Int(state >> 16) % 17 + 1, body.count - offset)
            lines += try framer.append(body[offset..<offset + length])
            offset += length
        }
    } catch {
        guard tooLong else { fatalError("framer refused a stream without an overlong line: \(body)") }
        guard framer.bufferedBytes == 0, !framer.hasPartialLine else { fatalError("framer not emptied after \(error)") }
        return 0
    }
    guard !tooLong else { fatalError("framer accepted a line over its \(limit)-byte limit: \(body)") }
    guard lines == reference.lines else {
        fatalError("framer returned \(lines.count) lines, expected \(reference.lines.count), for \(body)")
    }
    guard framer.hasPartialLine == reference.tail.contains(where: { !isSpace($0) }) else {
        fatalError("hasPartialLine is \(framer.hasPartialLine) for tail \(reference.tail)")
    }
    for line in lines {
        if case .failure(let failure) = DecodedWatchEvent<Service>.decode(line) { _ = failure.description }
    }
    framer.reset()
    guard !framer.hasPartialLine, (try? framer.append([UInt8(ascii: "\n")]))?.isEmpty == true else {
        fatalError("reset left bytes behind")
    }
    return 0
}

/// The framer's contract, computed on the whole input at once.
private struct Reference {
    /// Every `\n`-terminated line without its terminator and one trailing `\r`, blank or not.
    var segments: [[UInt8]]
    /// The bytes after the last `\n`.
    var tail: ArraySlice<UInt8>
    /// The lines the framer returns: the segments that are not blank.
    var lines: [[UInt8]] { segments.filter { $0.contains(where: { !isSpace($0) }) } }

    init(_ body: [UInt8]) {
        var pieces = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        tail = pieces.removeLast()
        segments = pieces.map { piece -> [UInt8] in
            piece.last == UInt8(ascii: "\r") ? Array(piece.dropLast()) : Array(piece)
        }
    }
}

/// JSON's insignificant whitespace.
private func isSpace(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
        || byte == UInt8(ascii: "\n")
}
