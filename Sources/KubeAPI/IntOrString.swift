/// `intstr.IntOrString`: a value that is either a number or a name, as in a Service port's
/// `targetPort` (`8080` or `"http"`).
///
/// It encodes back to the same JSON kind it was decoded from, so `"8080"` (a string) stays a
/// string; whether a numeric string is acceptable is for validation to decide, not the decoder.
public enum IntOrString: Codable, Sendable, Hashable, CustomStringConvertible {
    /// A number, e.g. a port.
    case int(Int)
    /// A name, e.g. a named container port.
    case string(String)

    /// Decodes a JSON number as `.int` and a JSON string as `.string`; anything else is a type
    /// mismatch naming both accepted kinds.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            throw DecodingError.typeMismatch(
                IntOrString.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected an integer or a string")
            )
        }
    }

    /// Encodes as the JSON kind of the case.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }

    /// The number or the name, as text.
    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .string(let value): value
        }
    }
}
