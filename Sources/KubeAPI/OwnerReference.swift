/// `metav1.OwnerReference`: names the object that owns this one (e.g. the Service that owns an
/// EndpointSlice). Kept for completeness and round-tripping; kube-proxy keys slices by the
/// `kubernetes.io/service-name` label instead.
///
/// This type is also decoded by hand (`KubeClient/Typed/ObjectMeta+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct OwnerReference: Codable, Sendable, Hashable {
    /// API version of the owner.
    public var apiVersion: String?
    /// Kind of the owner.
    public var kind: String?
    /// Name of the owner.
    public var name: String?
    /// UID of the owner.
    public var uid: String?
    /// Whether the owner is the managing controller.
    public var controller: Bool?
    /// Whether deleting the owner waits for this object.
    public var blockOwnerDeletion: Bool?

    /// Creates an owner reference; every field defaults to absent.
    public init(
        apiVersion: String? = nil, kind: String? = nil, name: String? = nil, uid: String? = nil,
        controller: Bool? = nil, blockOwnerDeletion: Bool? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}
