/// `metav1.StatusCause`: one reason a request failed, usually tied to a field.
///
/// Also the currency of our own validation: Core's Service/EndpointSlice validators return
/// `[StatusCause]` (e.g. field `spec.ports[0].port`, message `must be between 1 and 65535`),
/// so manifest errors and API-server errors read the same.
public struct StatusCause: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Machine-readable reason, e.g. `FieldValueInvalid`, `FieldValueRequired`.
    public var reason: String?
    /// Human-readable message.
    public var message: String?
    /// Path of the offending field, e.g. `spec.ports[0].port`.
    public var field: String?

    /// Creates a cause.
    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }

    /// `field: message` (or just the message when no field is named).
    public var description: String {
        let text = message ?? reason ?? "invalid"
        guard let field, !field.isEmpty else { return text }
        return "\(field): \(text)"
    }
}
