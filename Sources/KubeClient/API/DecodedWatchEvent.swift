import Foundation
import KubeAPI

/// One watch line, decoded by its `type`: an object change, a bookmark, an error `Status`, or a
/// type we do not know.
///
/// Decoding by type matters: a `BOOKMARK` object is an empty shell of the watched kind (only
/// `metadata.resourceVersion` is real) and an `ERROR` object is a `Status`, so neither may be
/// decoded as the watched kind.
enum DecodedWatchEvent<Object: APIObject>: Decodable, Sendable {
    /// `ADDED` or `MODIFIED`: the object as it is now.
    case upsert(Object)
    /// `DELETED`: the object's last state.
    case deleted(Object)
    /// `BOOKMARK`: everything up to this `resourceVersion` has been delivered.
    case bookmark(resourceVersion: String?)
    /// `ERROR`: the stream ends with this status.
    case error(Status)
    /// Any other `type`: a protocol error.
    case unknown(type: String)

    private enum CodingKeys: String, CodingKey {
        case type, object
    }

    private struct Bookmark: Decodable {
        struct Metadata: Decodable {
            var resourceVersion: String?
        }
        var metadata: Metadata?
    }

    /// Decodes `{"type": …, "object": …}`, reading `object` as the type demands.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED", "MODIFIED":
            self = .upsert(try container.decode(Object.self, forKey: .object))
        case "DELETED":
            self = .deleted(try container.decode(Object.self, forKey: .object))
        case "BOOKMARK":
            let bookmark = try container.decodeIfPresent(Bookmark.self, forKey: .object)
            self = .bookmark(resourceVersion: bookmark?.metadata?.resourceVersion)
        case "ERROR":
            self = .error(try container.decode(Status.self, forKey: .object))
        default:
            self = .unknown(type: type)
        }
    }

    /// Decodes one line; the failure is a short message naming the field that did not decode.
    static func decode(_ line: [UInt8]) -> Result<DecodedWatchEvent, DecodingFailure> {
        do {
            return .success(try line.decodeJSON(DecodedWatchEvent.self))
        } catch {
            return .failure(DecodingFailure(error))
        }
    }
}

/// A JSON decoding error reduced to one line: `at object.spec.ports[0].port: expected Int`
/// (an escaped excerpt: field names and the decoder's text may quote what the server sent).
struct DecodingFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message.
    var description: String

    /// Summarises `error` (a `DecodingError` or anything else).
    init(_ error: any Error) {
        description = LogExcerpt.quote(Self.summary(error), limit: 300)
    }

    private static func summary(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            let path = Self.path(context.codingPath)
            return path.isEmpty ? context.debugDescription : "at \(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }
}

extension [UInt8] {
    /// Decodes JSON text held in these bytes: through ``JSONTapeDecoder`` when it is sure of the
    /// answer, else with `JSONDecoder` (whose errors name the field), without first copying the
    /// bytes into a `Data` (a LIST page is up to a few megabytes).
    func decodeJSON<T: Decodable>(_ type: T.Type) throws -> T {
        if let value = JSONTapeDecoder.decode(type, from: self) { return value }
        return try decodeWithFoundation(type)
    }

    /// Decodes JSON text held in these bytes with `JSONDecoder`: the reference the fast path is
    /// held to, and the source of every decoding error.
    func decodeWithFoundation<T: Decodable>(_ type: T.Type) throws -> T {
        try withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else {
                return try JSONDecoder().decode(type, from: Data())
            }
            // `.none`: the bytes stay owned by this array, which outlives the decode.
            let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none)
            return try JSONDecoder().decode(type, from: data)
        }
    }
}
