/// `core/v1.ObjectReference`: points at another object, e.g. the Pod behind an endpoint
/// (`targetRef`). Used in logs and events, never for routing.
///
/// This type is also decoded by hand (`KubeClient/Typed/EndpointSlice+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct ObjectReference: Codable, Sendable, Hashable {
    /// Kind of the referent (usually `Pod`).
    public var kind: String?
    /// Namespace of the referent.
    public var namespace: String?
    /// Name of the referent.
    public var name: String?
    /// UID of the referent.
    public var uid: String?
    /// API version of the referent.
    public var apiVersion: String?
    /// Resource version of the referent when the reference was made.
    public var resourceVersion: String?
    /// Field within the referent, if the reference is to a part of it.
    public var fieldPath: String?

    /// Creates a reference; every field defaults to absent.
    public init(
        kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil,
        apiVersion: String? = nil, resourceVersion: String? = nil, fieldPath: String? = nil
    ) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.apiVersion = apiVersion
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
    }
}
