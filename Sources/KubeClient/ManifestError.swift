/// A problem with a manifest path, file, document or object, with enough context to find it:
/// `manifests/svc.yaml: document 2 (Service default/web): spec.ports[0].port: must be between 1 and 65535`.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for callers that react differently (tests, health).
    public enum Reason: Sendable, Hashable {
        /// The path given to `--manifests` does not exist (thrown at start).
        case missingPath
        /// The file exists but cannot be read; its previous objects stay.
        case unreadable
        /// YAML or JSON syntax error.
        case syntax
        /// The document is well-formed but does not decode: wrong type, missing required field.
        case invalidObject
        /// The validator rejected the object.
        case validation
        /// The object is also defined in an earlier file, or twice in one file.
        case duplicate
        /// A kind (or `apiVersion`) kube-proxy does not read. Only a warning: the document is
        /// skipped and never blocks its file, so whole-application manifests can be pointed at.
        case unsupportedKind
    }

    /// Category of the problem.
    public var reason: Reason
    /// The file (or the manifest path itself), as the user gave it.
    public var file: String
    /// 1-based document number within the file, when the problem is in one document.
    public var document: Int?
    /// The object's kind, when known.
    public var kind: String?
    /// The object's `namespace/name`, when known.
    public var object: String?
    /// The offending field, e.g. `spec.ports[0].port`.
    public var field: String?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(
        reason: Reason, file: String, document: Int? = nil, kind: String? = nil, object: String? = nil,
        field: String? = nil, message: String
    ) {
        self.reason = reason
        self.file = file
        self.document = document
        self.kind = kind
        self.object = object
        self.field = field
        self.message = message
    }

    /// `file: document N (Kind ns/name): field: message`, leaving out what is unknown.
    public var description: String {
        var text = file
        if let document {
            text += ": document \(document)"
            let context = [kind, object].compactMap { $0 }.joined(separator: " ")
            if !context.isEmpty { text += " (\(context))" }
        }
        if let field, !field.isEmpty { text += ": \(field)" }
        return text + ": " + message
    }
}
