/// The path of a field inside an API object, e.g. `spec.ports[1].port`.
///
/// Why a type: validation errors name the exact field the way the API server does, so an
/// operator reading a manifest error or a refused-object log line can find the value at once.
/// Building paths by appending components keeps the spelling consistent across validators.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    /// The rendered path.
    public private(set) var description: String

    /// A root path such as `spec` or `metadata`.
    public init(_ root: String) {
        self.description = root
    }

    /// `self.name`.
    public func child(_ name: String) -> FieldPath {
        var path = self
        path.description += description.isEmpty ? name : ".\(name)"
        return path
    }

    /// `self[index]`.
    public func index(_ index: Int) -> FieldPath {
        var path = self
        path.description += "[\(index)]"
        return path
    }
}
