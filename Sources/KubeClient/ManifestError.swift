/// A problem with a manifest path, file, document or object, with enough context to find it:
/// `manifests/svc.yaml: document 2 (Service default/web): spec.ports[0].port: must be between 1 and 65535`.
///
/// Every text field may carry manifest content (a name, a key, a value quoted by a validator or a
/// parser), so the initializer shortens each to an excerpt and escapes control characters: an
/// error is always one line of bounded length, whatever the file holds. `file` is kept as given
/// (it identifies the file) and escaped only in ``description``.
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
        /// A bound of ``ManifestLimits`` was hit: the file is too large, holds too many
        /// documents, or its aliases expand too far (a "billion laughs" document).
        case limitExceeded
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

    /// The longest `kind`, `object` and `field` kept, in characters (a namespace and a name
    /// together are at most 317).
    static let contextLimit = 320
    /// The longest `message` kept, in characters: room for our own words around a quoted
    /// excerpt of at most ``ManifestExcerpt/defaultLimit``.
    static let messageLimit = 400

    /// Creates an error; `kind`, `object`, `field` and `message` are cut to excerpts and
    /// escaped (see the type's discussion).
    public init(
        reason: Reason, file: String, document: Int? = nil, kind: String? = nil, object: String? = nil,
        field: String? = nil, message: String
    ) {
        self.reason = reason
        self.file = file
        self.document = document
        self.kind = kind.map { Self.bounded($0, limit: Self.contextLimit) }
        self.object = object.map { Self.bounded($0, limit: Self.contextLimit) }
        self.field = field.map { Self.bounded($0, limit: Self.contextLimit) }
        self.message = Self.bounded(message, limit: Self.messageLimit)
    }

    /// The file name as printed: escaped, since a directory entry may contain a newline too.
    public var displayFile: String {
        Self.bounded(file, limit: 4096)
    }

    private static func bounded(_ text: String, limit: Int) -> String {
        ManifestExcerpt.isClean(text, limit: limit) ? text : ManifestExcerpt.excerpt(text, limit: limit)
    }

    /// `file: document N (Kind ns/name): field: message`, leaving out what is unknown.
    public var description: String {
        var text = displayFile
        if let document {
            text += ": document \(document)"
            let context = [kind, object].compactMap { $0 }.joined(separator: " ")
            if !context.isEmpty { text += " (\(context))" }
        }
        if let field, !field.isEmpty { text += ": \(field)" }
        return text + ": " + message
    }
}
