import KubeAPI

/// Builders for validation failures in the API server's own wording.
///
/// The `reason` strings are the `metav1.CauseType` values the API server puts into a `Status`
/// (`FieldValueRequired`, …) and the messages follow its field-error format, so a manifest
/// refused by us reads like one refused by `kubectl apply`.
extension StatusCause {
    /// A required field is missing or empty.
    public static func required(_ path: FieldPath, _ detail: String? = nil) -> StatusCause {
        StatusCause(
            reason: "FieldValueRequired", message: detail.map { "Required value: \($0)" } ?? "Required value",
            field: path.description)
    }

    /// A field has a value that is malformed or out of range.
    public static func invalid(_ path: FieldPath, value: String, _ detail: String) -> StatusCause {
        StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(value)): \(detail)", field: path.description)
    }

    /// A numeric field is out of range.
    public static func invalid(_ path: FieldPath, value: Int, _ detail: String) -> StatusCause {
        StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \(value): \(detail)", field: path.description)
    }

    /// An enum-like field has a value outside its closed set.
    public static func notSupported(_ path: FieldPath, value: String, supported: [String]) -> StatusCause {
        let list = supported.sorted().map(quoted).joined(separator: ", ")
        return StatusCause(
            reason: "FieldValueNotSupported", message: "Unsupported value: \(quoted(value)): supported values: \(list)",
            field: path.description)
    }

    /// A value that must be unique appears again.
    public static func duplicate(_ path: FieldPath, value: String) -> StatusCause {
        StatusCause(reason: "FieldValueDuplicate", message: "Duplicate value: \(quoted(value))", field: path.description)
    }

    private static func quoted(_ value: String) -> String {
        var out = "\""
        for character in value {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }
}
