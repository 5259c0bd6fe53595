import KubeAPI

@testable import KubeClient

/// libFuzzer entry point for the watch stream framer (`JSONLinesFramer`) and the watch-line
/// decoder behind it.
///
/// The first byte seeds how the rest is cut into chunks (1–17 bytes, as a socket might deliver
/// it). The framer's documented guarantee is checked against a direct computation: the lines
/// returned over all chunks are the input split on `\n`, minus blank lines and one trailing
/// `\r` each, without the unterminated tail, and `hasPartialLine` says whether that tail holds
/// anything but whitespace. Every line is then decoded as a watch event, as the client does.
@_cdecl("LLVMFuzzerTestOneInput")
public func watchFramerFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var state = UInt32(data[0]) &* 2_654_435_761 | 1
    var framer = JSONLinesFramer()
    var lines: [[UInt8]] = []
    var offset = 0
    while offset < body.count {
        state = state &* 1_103_515_245 &+ 12_345
        let length = min(Int(state >> 16) % 17 + 1, body.count - offset)
        lines += framer.append(body[offset..<offset + length])
        offset += length
    }
    let (expected, tail) = referenceLines(body)
    guard lines == expected else {
        fatalError("framer returned \(lines.count) lines, expected \(expected.count), for \(body)")
    }
    guard framer.hasPartialLine == tail.contains(where: { !isSpace($0) }) else {
        fatalError("hasPartialLine is \(framer.hasPartialLine) for tail \(tail)")
    }
    for line in lines {
        if case .failure(let failure) = DecodedWatchEvent<Service>.decode(line) { _ = failure.description }
    }
    framer.reset()
    guard !framer.hasPartialLine, framer.append([UInt8(ascii: "\n")]).isEmpty else {
        fatalError("reset left bytes behind")
    }
    return 0
}

/// The framer's contract, computed on the whole input at once.
private func referenceLines(_ body: [UInt8]) -> (lines: [[UInt8]], tail: ArraySlice<UInt8>) {
    var pieces = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    let tail = pieces.removeLast()
    let lines = pieces.map { piece -> [UInt8] in
        piece.last == UInt8(ascii: "\r") ? Array(piece.dropLast()) : Array(piece)
    }
    return (lines.filter { $0.contains(where: { !isSpace($0) }) }, tail)
}

/// JSON's insignificant whitespace.
private func isSpace(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
        || byte == UInt8(ascii: "\n")
}
