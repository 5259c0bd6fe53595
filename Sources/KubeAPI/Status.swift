/// `metav1.Status`: the API server's error body (and the object of a watch `ERROR` event, where
/// `code` 410 means "resourceVersion too old, relist").
public struct Status: Codable, Sendable, Hashable, Error {
    /// `Status`.
    public var kind: String?
    /// `v1`.
    public var apiVersion: String?
    /// List metadata (rarely set).
    public var metadata: ListMeta?
    /// `Success` or `Failure`.
    public var status: String?
    /// Human-readable description.
    public var message: String?
    /// Machine-readable reason, e.g. `Expired`, `NotFound`.
    public var reason: String?
    /// Extra detail, including field-level causes.
    public var details: StatusDetails?
    /// HTTP status code.
    public var code: Int?

    /// Creates a status.
    public init(
        kind: String? = "Status", apiVersion: String? = "v1", metadata: ListMeta? = nil, status: String? = nil,
        message: String? = nil, reason: String? = nil, details: StatusDetails? = nil, code: Int? = nil
    ) {
        self.kind = kind
        self.apiVersion = apiVersion
        self.metadata = metadata
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }
}

/// `metav1.StatusDetails`: which object a `Status` is about and why.
public struct StatusDetails: Codable, Sendable, Hashable {
    /// Name of the object.
    public var name: String?
    /// API group of the object.
    public var group: String?
    /// Kind of the object.
    public var kind: String?
    /// UID of the object.
    public var uid: String?
    /// Field-level causes.
    public var causes: [StatusCause]?
    /// Seconds to wait before retrying.
    public var retryAfterSeconds: Int?

    /// Creates details.
    public init(
        name: String? = nil, group: String? = nil, kind: String? = nil, uid: String? = nil,
        causes: [StatusCause]? = nil, retryAfterSeconds: Int? = nil
    ) {
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }
}
