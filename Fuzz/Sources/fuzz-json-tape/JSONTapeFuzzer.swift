import Foundation
import KubeAPI

@testable import KubeClient

/// libFuzzer entry point for the byte-level JSON scanner (`JSONTape`) and the decoder built on it
/// (`JSONTapeDecoder`), differentially against `JSONDecoder`.
///
/// The first byte picks the type; the rest is the JSON body. Whatever the fast path answers must
/// be exactly what `JSONDecoder` answers: a value the tape decoder returns must also decode with
/// `JSONDecoder`, to an equal value. (The converse is not required: what the fast path refuses,
/// `JSONDecoder` decides.) The scanner itself must never crash, whatever the bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func jsonTapeFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 9 {
    case 0: agree(JSONValue.self, body)
    case 1: agree(Service.self, body)
    case 2: agree(EndpointSlice.self, body)
    case 3: agree(ObjectList<EndpointSlice>.self, body)
    case 4: agree(ObjectList<Service>.self, body)
    case 5: agree(Endpoints.self, body)
    case 6: agree(Status.self, body)
    case 7: agree(WatchEvent<Service>.self, body)
    default: watchLine(body)
    }
    return 0
}

/// The fast path's answer, if any, equals `JSONDecoder`'s; the tape's own `JSONValue` too.
private func agree<T: Decodable & Equatable>(_ type: T.Type, _ body: [UInt8]) {
    if let tape = try? JSONTape(parsing: body), let value = tape.value(at: 0) {
        guard let reference = try? body.decodeWithFoundation(JSONValue.self), reference == value else {
            fatalError("tape value \(value) disagrees with JSONDecoder on \(String(decoding: body, as: UTF8.self))")
        }
    }
    guard let fast = JSONTapeDecoder.decode(type, from: body) else { return }
    let reference: T
    do {
        reference = try body.decodeWithFoundation(type)
    } catch {
        fatalError("\(T.self) decoded by the tape but JSONDecoder says \(error): \(String(decoding: body, as: UTF8.self))")
    }
    guard fast == reference else {
        fatalError("\(T.self): tape \(fast) but JSONDecoder \(reference)")
    }
}

/// A watch line decoded by type: the same case and payload either way.
private func watchLine(_ body: [UInt8]) {
    guard let fast = JSONTapeDecoder.decode(DecodedWatchEvent<EndpointSlice>.self, from: body) else { return }
    guard let reference = try? body.decodeWithFoundation(DecodedWatchEvent<EndpointSlice>.self) else {
        fatalError("watch line decoded by the tape only: \(String(decoding: body, as: UTF8.self))")
    }
    let same: Bool
    switch (fast, reference) {
    case (.upsert(let a), .upsert(let b)), (.deleted(let a), .deleted(let b)): same = a == b
    case (.bookmark(let a), .bookmark(let b)): same = a == b
    case (.error(let a), .error(let b)): same = a == b
    case (.unknown(let a), .unknown(let b)): same = a == b
    default: same = false
    }
    guard same else { fatalError("watch line: tape \(fast) but JSONDecoder \(reference)") }
}
