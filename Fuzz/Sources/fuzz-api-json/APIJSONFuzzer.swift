import Foundation
import KubeAPI

@testable import KubeClient

/// libFuzzer entry point for the API JSON decoders: the `Codable` types of KubeAPI as the API
/// client decodes them (list responses, watch lines, `Status` bodies).
///
/// The first byte picks the type; the rest is the JSON body. A body that decodes must also
/// survive the round trip: encoding it and decoding the result gives an equal value. Encoding is
/// on real paths too: the manifest decoder re-encodes each `JSONValue` document to decode its
/// kind, and the fake API server serves encoded objects to the end-to-end tests.
@_cdecl("LLVMFuzzerTestOneInput")
public func apiJSONFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Data(bytes: data + 1, count: size - 1)
    switch data[0] % 14 {
    case 0: roundTrip(Service.self, body)
    case 1: roundTrip(EndpointSlice.self, body)
    case 2: roundTrip(Endpoints.self, body)
    case 3: roundTrip(Node.self, body)
    case 4: roundTrip(Status.self, body)
    case 5: roundTrip(JSONValue.self, body)
    case 6: roundTrip(ObjectList<Service>.self, body)
    case 7: roundTrip(ObjectList<EndpointSlice>.self, body)
    case 8: roundTrip(WatchEvent<Service>.self, body)
    case 9: roundTrip(WatchEvent<JSONValue>.self, body)
    case 10: watchLine(DecodedWatchEvent<Service>.self, body)
    case 11: watchLine(DecodedWatchEvent<EndpointSlice>.self, body)
    case 12: watchLine(DecodedWatchEvent<Endpoints>.self, body)
    default: watchLine(DecodedWatchEvent<Node>.self, body)
    }
    return 0
}

/// Decodes one watch line the way the client does, including the failure message it logs.
private func watchLine<Object: APIObject>(_ type: DecodedWatchEvent<Object>.Type, _ body: Data) {
    if case .failure(let failure) = DecodedWatchEvent<Object>.decode(Array(body)) { _ = failure.description }
}

/// Decodes `body` as `T`; when that works, checks that encoding and decoding again is lossless.
private func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ body: Data) {
    guard let value = try? JSONDecoder().decode(T.self, from: body) else { return }
    let encoded: Data
    do {
        encoded = try JSONEncoder().encode(value)
    } catch {
        fatalError("\(T.self) decoded but does not encode: \(error)")
    }
    let again: T
    do {
        again = try JSONDecoder().decode(T.self, from: encoded)
    } catch {
        fatalError("\(T.self) re-encoded as \(String(decoding: encoded, as: UTF8.self)) does not decode: \(error)")
    }
    guard again == value else {
        fatalError("\(T.self) round trip changed the value: \(value) became \(again)")
    }
}
