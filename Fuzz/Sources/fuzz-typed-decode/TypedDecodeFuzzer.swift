import Foundation
import KubeAPI

@testable import KubeClient

/// libFuzzer entry point for the hand-written typed decoders (`TypedDecodable`: `Service`,
/// `EndpointSlice`, `ObjectMeta` and what they contain), differentially against `Codable`.
///
/// The first byte picks the type; the rest is JSON. Each input is decoded both ways from both
/// sources the typed decoders read:
/// - the API tape: the typed decoder straight on the `JSONTape`, and `JSONTapeDecoder` with and
///   without typed decoding, against `JSONDecoder` on the same bytes;
/// - the manifest tree: the typed decoder on the `JSONValue` `JSONDecoder` makes of the bytes,
///   against what `ManifestDecoder` decoded before typed decoding existed (`JSONValueDecoder`'s
///   `Codable` path, else `JSONDecoder` on the tree's JSON).
/// Whenever a typed decoder answers, the reference must answer the same value; a typed decoder
/// may give up where the reference succeeds (that input is then decoded by the reference).
@_cdecl("LLVMFuzzerTestOneInput")
public func typedDecodeFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0: both(Service.self, body)
    case 1: both(EndpointSlice.self, body)
    case 2: both(ObjectMeta.self, body)
    case 3: list(ObjectList<EndpointSlice>.self, body)
    default: list(ObjectList<Service>.self, body)
    }
    return 0
}

private func text(_ body: [UInt8]) -> String {
    String(decoding: body, as: UTF8.self)
}

/// A typed-decodable type from both sources.
private func both<T: TypedDecodable & Decodable & Equatable>(_ type: T.Type, _ body: [UInt8]) {
    tape(type, body)
    tree(type, body)
    list(type, body)
}

/// The typed decoder on the tape agrees with `JSONDecoder`.
private func tape<T: TypedDecodable & Decodable & Equatable>(_ type: T.Type, _ body: [UInt8]) {
    guard let parsed = try? JSONTape(parsing: body) else { return }
    let reader = JSONTapeReader(tape: parsed)
    let root = TypedDecoding.decode(type, tape: 0, in: reader)
    let fast: T
    do {
        fast = try T.decodeTyped(0, from: reader)
    } catch {
        guard root == nil else { fatalError("\(T.self): the tape entry point decoded what the decoder gave up on: \(text(body))") }
        return
    }
    if T.self is any TypedDecodingRoot.Type, root != fast {
        fatalError("\(T.self): the tape entry point disagrees with the decoder: \(text(body))")
    }
    let reference: T
    do {
        reference = try body.decodeWithFoundation(type)
    } catch {
        fatalError("\(T.self): typed (tape) decoded but JSONDecoder says \(error): \(text(body))")
    }
    guard fast == reference else { fatalError("\(T.self): typed (tape) \(fast) but JSONDecoder \(reference): \(text(body))") }
}

/// The typed decoder on the tree agrees with the manifest path's `Codable` decoding.
private func tree<T: TypedDecodable & Decodable & Equatable>(_ type: T.Type, _ body: [UInt8]) {
    guard let value = try? body.decodeWithFoundation(JSONValue.self) else { return }
    let root = TypedDecoding.decode(type, tree: value)
    let fast: T
    do {
        fast = try T.decodeTyped(value, from: JSONValueReader())
    } catch {
        guard root == nil else { fatalError("\(T.self): the tree entry point decoded what the decoder gave up on: \(value)") }
        return
    }
    if T.self is any TypedDecodingRoot.Type, root != fast {
        fatalError("\(T.self): the tree entry point disagrees with the decoder: \(value)")
    }
    let reference: T
    do {
        reference = try JSONValueDecoder.decodeCodable(type, from: value)
    } catch {
        do {
            reference = try JSONDecoder().decode(type, from: JSONEncoder().encode(value))
        } catch {
            fatalError("\(T.self): typed (tree) decoded but Codable says \(error): \(value)")
        }
    }
    guard fast == reference else { fatalError("\(T.self): typed (tree) \(fast) but Codable \(reference): \(value)") }
    guard (try? JSONValueDecoder.decode(type, from: value)) == reference else {
        fatalError("\(T.self): JSONValueDecoder disagrees with its Codable path: \(value)")
    }
}

/// `JSONTapeDecoder` with typed decoding (what LIST pages and watch lines use) agrees with
/// `JSONDecoder`, and with itself without typed decoding.
private func list<T: Decodable & Equatable>(_ type: T.Type, _ body: [UInt8]) {
    let codable = JSONTapeDecoder.decode(type, from: body, typed: false)
    guard let fast = JSONTapeDecoder.decode(type, from: body) else { return }
    if let codable, codable != fast {
        fatalError("\(T.self): tape typed \(fast) but tape Codable \(codable): \(text(body))")
    }
    let reference: T
    do {
        reference = try body.decodeWithFoundation(type)
    } catch {
        fatalError("\(T.self): tape decoded but JSONDecoder says \(error): \(text(body))")
    }
    guard fast == reference else { fatalError("\(T.self): tape \(fast) but JSONDecoder \(reference): \(text(body))") }
}
