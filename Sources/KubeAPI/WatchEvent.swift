/// One record of a watch stream: `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": …}`.
///
/// `type` is a string so an unknown event type decodes and the watch state machine decides what
/// to do with it. For `ERROR` the object is a `Status`; decode as `WatchEvent<JSONValue>` first
/// when the type is not known in advance.
public struct WatchEvent<Object: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
    /// Event type.
    public var type: String
    /// The object (for `BOOKMARK` only `metadata.resourceVersion` is meaningful).
    public var object: Object

    /// Creates an event.
    public init(type: String, object: Object) {
        self.type = type
        self.object = object
    }
}
