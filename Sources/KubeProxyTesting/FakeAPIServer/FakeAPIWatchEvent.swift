import Foundation
import KubeAPI

/// One record of a watch stream as the fake writes it: a JSON object on its own line.
enum FakeAPIWatchEvent: Sendable {
    /// The event types that carry a real object.
    enum ObjectEventType: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
    }

    /// ADDED / MODIFIED / DELETED with the object.
    case object(type: ObjectEventType, any FakeAPIObject)
    /// BOOKMARK: an empty object of the watched kind carrying only the resourceVersion (and the
    /// `k8s.io/initial-events-end` annotation when it closes a streaming list).
    case bookmark(FakeAPIResource, resourceVersion: Int, initialEventsEnd: Bool)
    /// ERROR with a `Status`; the stream ends after it.
    case error(Status)

    /// The event as one newline-terminated JSON line.
    func encodedLine() -> [UInt8] {
        var line: [UInt8] = []
        switch self {
        case .object(let type, let object):
            line += Array("{\"type\":\"\(type.rawValue)\",\"object\":".utf8)
            line += FakeAPIJSON.encode(object)
        case .bookmark(let resource, let rv, let initialEventsEnd):
            line += Array("{\"type\":\"BOOKMARK\",\"object\":".utf8)
            line += Self.bookmarkObject(resource, resourceVersion: rv, initialEventsEnd: initialEventsEnd)
        case .error(let status):
            line += Array("{\"type\":\"ERROR\",\"object\":".utf8)
            line += FakeAPIJSON.encode(status)
        }
        line += Array("}\n".utf8)
        return line
    }

    /// The bookmark object, shaped like the real server's: the empty object of the kind with Go's
    /// zero values (`"creationTimestamp":null`, `"spec":{}`, `"endpoints":null`), which a client
    /// must tolerate.
    static func bookmarkObject(_ resource: FakeAPIResource, resourceVersion: Int, initialEventsEnd: Bool) -> [UInt8] {
        let annotations = initialEventsEnd ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : ""
        let metadata = "{\"resourceVersion\":\"\(resourceVersion)\",\"creationTimestamp\":null\(annotations)}"
        let rest: String
        switch resource {
        case .services: rest = ",\"spec\":{},\"status\":{\"loadBalancer\":{}}"
        case .endpointSlices: rest = ",\"addressType\":\"\",\"endpoints\":null"
        case .endpoints: rest = ""
        case .nodes: rest = ",\"spec\":{},\"status\":{}"
        }
        return Array("{\"kind\":\"\(resource.kind)\",\"apiVersion\":\"\(resource.apiVersion)\",\"metadata\":\(metadata)\(rest)}".utf8)
    }
}

/// JSON encoding for response bodies: compact, `/` unescaped (so `discovery.k8s.io/v1` reads
/// as on a real server).
enum FakeAPIJSON {
    /// The JSON bytes of `value`. Our payloads are plain value types without floating point, so
    /// encoding cannot fail; should it ever, the result is `{}` rather than a crash in a test.
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }
}
