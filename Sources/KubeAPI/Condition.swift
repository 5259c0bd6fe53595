/// `metav1.Condition`: the standard condition shape in object statuses.
///
/// This type is also decoded by hand (`KubeClient/Typed/Service+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct Condition: Codable, Sendable, Hashable {
    /// Condition type (CamelCase).
    public var type: String?
    /// `True`, `False` or `Unknown`.
    public var status: String?
    /// The `metadata.generation` the condition was set for.
    public var observedGeneration: Int?
    /// RFC 3339 time of the last status change, as sent.
    public var lastTransitionTime: String?
    /// Machine-readable reason.
    public var reason: String?
    /// Human-readable message.
    public var message: String?

    /// Creates a condition; every field defaults to absent.
    public init(
        type: String? = nil, status: String? = nil, observedGeneration: Int? = nil,
        lastTransitionTime: String? = nil, reason: String? = nil, message: String? = nil
    ) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}
