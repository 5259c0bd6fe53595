/// `metav1.ObjectMeta`: the identity and bookkeeping every persisted object carries.
///
/// `managedFields` is deliberately not modelled: kube-proxy never reads it and it is by far the
/// largest part of most objects. Timestamps stay strings so they round-trip byte-exactly.
///
/// This type is also decoded by hand (`KubeClient/Typed/ObjectMeta+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct ObjectMeta: Codable, Sendable, Hashable {
    /// Unique name within the namespace; `nil` only in templates that use `generateName`.
    public var name: String?
    /// Prefix the server uses to generate a name when `name` is empty.
    public var generateName: String?
    /// Namespace; `nil` for cluster-scoped objects (Node) and for manifests that leave it out.
    public var namespace: String?
    /// Deprecated self link; kept so it round-trips.
    public var selfLink: String?
    /// Server-assigned unique id.
    public var uid: String?
    /// Opaque version used for watch resumption and optimistic concurrency.
    public var resourceVersion: String?
    /// Sequence number of the desired-state generation.
    public var generation: Int?
    /// RFC 3339 creation time, as sent.
    public var creationTimestamp: String?
    /// RFC 3339 time the object is due to be deleted, as sent.
    public var deletionTimestamp: String?
    /// Grace period of a pending deletion.
    public var deletionGracePeriodSeconds: Int?
    /// Labels, used for selection (`service.kubernetes.io/service-proxy-name`, …).
    public var labels: [String: String]?
    /// Annotations (e.g. `endpoints.kubernetes.io/last-change-trigger-time`).
    public var annotations: [String: String]?
    /// Owners of this object (an EndpointSlice is owned by its Service).
    public var ownerReferences: [OwnerReference]?
    /// Finalizers blocking deletion.
    public var finalizers: [String]?

    /// Creates metadata; every field defaults to absent.
    public init(
        name: String? = nil, generateName: String? = nil, namespace: String? = nil, selfLink: String? = nil,
        uid: String? = nil, resourceVersion: String? = nil, generation: Int? = nil,
        creationTimestamp: String? = nil, deletionTimestamp: String? = nil, deletionGracePeriodSeconds: Int? = nil,
        labels: [String: String]? = nil, annotations: [String: String]? = nil,
        ownerReferences: [OwnerReference]? = nil, finalizers: [String]? = nil
    ) {
        self.name = name
        self.generateName = generateName
        self.namespace = namespace
        self.selfLink = selfLink
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.generation = generation
        self.creationTimestamp = creationTimestamp
        self.deletionTimestamp = deletionTimestamp
        self.deletionGracePeriodSeconds = deletionGracePeriodSeconds
        self.labels = labels
        self.annotations = annotations
        self.ownerReferences = ownerReferences
        self.finalizers = finalizers
    }
}
