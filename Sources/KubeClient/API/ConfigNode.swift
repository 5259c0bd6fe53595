import Foundation
import KubeAPI

/// A position in a parsed kubeconfig: the value there (if any) and its path, so every problem
/// can be reported as `FILE: users[0].user.client-key: message`.
///
/// Why not `Codable`: a decoding error names a coding path but not the file, cannot say "file
/// not readable" about a path-valued field, and stops at the first problem in an order we do not
/// control. Reading by hand keeps each message exact.
struct ConfigNode: Sendable {
    /// The kubeconfig file.
    let file: String
    /// Path from the document root, e.g. `clusters[0].cluster.server` (empty for the root).
    let path: String
    /// The value at `path`, `nil` when absent.
    let value: JSONValue?

    /// The root of a parsed document.
    init(file: String, root: JSONValue) {
        self.init(file: file, path: "", value: root)
    }

    private init(file: String, path: String, value: JSONValue?) {
        self.file = file
        self.path = path
        self.value = value
    }

    /// The member `key` (absent if this is not a mapping or has no such key).
    subscript(_ key: String) -> ConfigNode {
        ConfigNode(file: file, path: path.isEmpty ? key : "\(path).\(key)", value: value?[key])
    }

    /// An error about this field.
    func error(_ message: String) -> APIClientError {
        .configuration(file: file, field: path.isEmpty ? nil : path, message: message)
    }

    /// Whether the value is absent or `null`.
    var isAbsent: Bool {
        if case .none = value { return true }
        if case .null? = value { return true }
        return false
    }

    /// The string here; `nil` when absent, null or empty.
    func string() throws(APIClientError) -> String? {
        switch value {
        case .none, .null?: return nil
        case .string(let text)?: return text.isEmpty ? nil : text
        default: throw error("must be a string")
        }
    }

    /// The string here, which must be present.
    func requiredString() throws(APIClientError) -> String {
        guard let text = try string() else { throw error("is required") }
        return text
    }

    /// The boolean here (`false` when absent).
    func bool() throws(APIClientError) -> Bool {
        switch value {
        case .none, .null?: return false
        case .bool(let flag)?: return flag
        default: throw error("must be true or false")
        }
    }

    /// The elements of the list here (empty when absent).
    func list() throws(APIClientError) -> [ConfigNode] {
        switch value {
        case .none, .null?: return []
        case .array(let elements)?:
            return elements.enumerated().map { ConfigNode(file: file, path: "\(path)[\($0.offset)]", value: $0.element) }
        default: throw error("must be a list")
        }
    }

    /// The strings of the list here.
    func stringList() throws(APIClientError) -> [String] {
        try list().map { element throws(APIClientError) in
            guard case .string(let text)? = element.value else { throw element.error("must be a string") }
            return text
        }
    }

    /// Base64 data here, decoded (`nil` when absent).
    func base64() throws(APIClientError) -> [UInt8]? {
        guard let text = try string() else { return nil }
        let compact = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact) else { throw error("is not valid base64") }
        return Array(data)
    }

    /// The contents of the file named here, resolved against `directory` when relative
    /// (`nil` when absent).
    func fileContents(relativeTo directory: String) throws(APIClientError) -> (path: String, bytes: [UInt8])? {
        guard let name = try string() else { return nil }
        let resolved = Self.resolve(name, relativeTo: directory)
        switch BoundedFile.read(resolved) {
        case .success(let bytes): return (resolved, bytes)
        case .failure(let failure): throw error("file \(resolved) \(failure)")
        }
    }

    /// `name` if absolute, else `directory/name`.
    static func resolve(_ name: String, relativeTo directory: String) -> String {
        if name.hasPrefix("/") || directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
