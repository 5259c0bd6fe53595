import Foundation
import KubeAPI

/// An injected check run on every decoded manifest object; any cause rejects the whole file.
/// Core provides the real one (the same rules the API server would enforce).
public typealias ManifestValidator = @Sendable (ManifestObject) -> [StatusCause]

/// An object and the 1-based number of the document that defined it (for error messages).
struct LoadedObject: Sendable, Hashable {
    var document: Int
    var object: ManifestObject
    /// `object.hashValue`, what the tracker keeps to diff it later; worked out here, where files
    /// are decoded in parallel, rather than in the tracker's serial merge.
    var digest: Int

    init(document: Int, object: ManifestObject) {
        self.document = document
        self.object = object
        self.digest = object.hashValue
    }
}

/// What one file contributes, all or nothing.
struct ManifestFileContents: Sendable, Hashable {
    /// The objects, in document order (only meaningful when `errors` is empty).
    var objects: [LoadedObject] = []
    /// Problems that reject the whole file.
    var errors: [ManifestError] = []
    /// Skipped documents (unsupported kinds): warnings only.
    var warnings: [ManifestError] = []
}

/// Decodes one manifest file into objects: documents, `List` wrappers, kind dispatch, defaulting
/// (`metadata.namespace` → `default`), required names, validation and in-file duplicates.
///
/// Field paths in errors are relative to the document (`items[2].spec.ports[0].port` inside a
/// list), so a user can find the field without knowing how the file was split.
enum ManifestDecoder {
    /// Decodes `data` read from `file`. Errors and warnings beyond `limits.maxReportsPerFile`
    /// are folded into one summary each (the file is rejected all the same).
    static func decode(
        _ data: Data, file: String, validator: @escaping ManifestValidator, limits: ManifestLimits = ManifestLimits()
    ) -> ManifestFileContents {
        var contents = decodeAll(data, file: file, validator: validator, limits: limits)
        contents.errors = capped(contents.errors, file: file, limit: limits.maxReportsPerFile, noun: "errors")
        contents.warnings = capped(contents.warnings, file: file, limit: limits.maxReportsPerFile, noun: "warnings")
        return contents
    }

    /// The first `limit` reports, then one line counting the rest.
    private static func capped(_ reports: [ManifestError], file: String, limit: Int, noun: String) -> [ManifestError] {
        guard reports.count > limit else { return reports }
        let summary = ManifestError(
            reason: reports[limit].reason, file: file,
            message: "\(reports.count - limit) more \(noun) in this file not shown")
        return Array(reports.prefix(limit)) + [summary]
    }

    private static func decodeAll(
        _ data: Data, file: String, validator: @escaping ManifestValidator, limits: ManifestLimits
    ) -> ManifestFileContents {
        var collector = Collector(file: file, validator: validator)
        if !file.lowercased().hasSuffix(".json") {
            // Ordinary YAML is decoded document by document straight from libyaml's events, so
            // neither Yams nodes nor more than one document's JSON tree exist at a time; the
            // composing path below takes over (from scratch) for anything out of the ordinary.
            let streamed = ManifestParser.streamDocuments(in: data, maxDocuments: limits.maxDocuments) {
                collector.add($0)
            }
            if streamed { return collector.contents }
            collector = Collector(file: file, validator: validator)
        }
        switch ManifestParser.documents(in: data, file: file, limits: limits) {
        case .success(let documents):
            for document in documents { collector.add(document) }
            return collector.contents
        case .failure(let error):
            return ManifestFileContents(errors: [error])
        }
    }
}

/// Decodes a file's documents one at a time, numbering them and finding objects defined twice.
private struct Collector {
    let file: String
    let validator: ManifestValidator
    var contents = ManifestFileContents()
    private var number = 0
    private var firstDocument: [ManifestObject.Key: Int] = [:]

    init(file: String, validator: @escaping ManifestValidator) {
        self.file = file
        self.validator = validator
    }

    mutating func add(_ document: JSONValue) {
        number += 1
        var decoded: [ManifestObject] = []
        DocumentDecoder(file: file, number: number, validator: validator)
            .decode(document, objects: &decoded, contents: &contents)
        for object in decoded {
            if let earlier = firstDocument[object.key] {
                contents.errors.append(
                    ManifestError(
                        reason: .duplicate, file: file, document: number, kind: "\(object.kind)",
                        object: "\(object.key.namespace)/\(object.key.name)",
                        message: "already defined in document \(earlier) of this file"))
            } else {
                firstDocument[object.key] = number
                contents.objects.append(LoadedObject(document: number, object: object))
            }
        }
    }
}

/// Decodes the objects of one document.
private struct DocumentDecoder {
    let file: String
    let number: Int
    let validator: ManifestValidator

    func decode(_ document: JSONValue, objects: inout [ManifestObject], contents: inout ManifestFileContents) {
        switch document {
        case .null:
            return  // an empty document, e.g. after a trailing `---`
        case .object(let members):
            if let kind = members["kind"]?.stringValue, kind.hasSuffix("List"), let items = members["items"] {
                decodeList(kind: kind, items: items, objects: &objects, contents: &contents)
            } else {
                decodeObject(document, prefix: "", defaultKind: nil, objects: &objects, contents: &contents)
            }
        default:
            contents.errors.append(error(.invalidObject, message: "document must be an object"))
        }
    }

    /// `List`, `ServiceList`, …: items of a typed list may leave out `kind`, as API responses do.
    private func decodeList(
        kind: String, items: JSONValue, objects: inout [ManifestObject], contents: inout ManifestFileContents
    ) {
        guard case .array(let elements) = items else {
            contents.errors.append(error(.invalidObject, field: "items", message: "must be a list"))
            return
        }
        let itemKind = kind == "List" ? nil : String(kind.dropLast("List".count))
        for (index, item) in elements.enumerated() {
            decodeObject(
                item, prefix: "items[\(index)].", defaultKind: itemKind, objects: &objects, contents: &contents)
        }
    }

    private func decodeObject(
        _ value: JSONValue, prefix: String, defaultKind: String?,
        objects: inout [ManifestObject], contents: inout ManifestFileContents
    ) {
        guard case .object(let members) = value else {
            contents.errors.append(
                error(.invalidObject, field: String(prefix.dropLast()), message: "must be an object"))
            return
        }
        let rawName = value["metadata"]?["name"]?.stringValue
        let label = rawName.map { "\(value["metadata"]?["namespace"]?.stringValue ?? "default")/\($0)" }
        guard
            let (kind, apiKind) = readableKind(
                members, prefix: prefix, defaultKind: defaultKind, label: label, contents: &contents)
        else { return }
        var object: ManifestObject
        do {
            object = try Self.decode(kind, from: value)
        } catch {
            let (field, message) = Self.describe(error)
            contents.errors.append(
                self.error(.invalidObject, kind: apiKind, object: label, field: prefix + field, message: message))
            return
        }
        guard let name = rawName, !name.isEmpty else {
            contents.errors.append(
                error(.invalidObject, kind: apiKind, field: prefix + "metadata.name", message: "is required"))
            return
        }
        object = Self.defaultingNamespace(object)
        let causes = validator(object)
        for cause in causes {
            contents.errors.append(
                error(
                    .validation, kind: apiKind, object: label, field: cause.field.map { prefix + $0 },
                    message: cause.message ?? cause.reason ?? "invalid"))
        }
        if causes.isEmpty { objects.append(object) }
    }

    /// The kind to decode as, or `nil` after recording why not: a missing `kind` is an error;
    /// a kind or `apiVersion` we do not read is a warning.
    private func readableKind(
        _ members: [String: JSONValue], prefix: String, defaultKind: String?, label: String?,
        contents: inout ManifestFileContents
    ) -> (ManifestObject.Kind, String)? {
        guard let apiKind = members["kind"]?.stringValue ?? defaultKind else {
            contents.errors.append(error(.invalidObject, field: prefix + "kind", message: "is required"))
            return nil
        }
        guard let kind = ManifestObject.Kind(apiKind: apiKind) else {
            contents.warnings.append(
                error(
                    .unsupportedKind, kind: apiKind, object: label, message: "kind is not read by kube-proxy; ignored"))
            return nil
        }
        if let apiVersion = members["apiVersion"]?.stringValue, apiVersion != kind.apiVersion {
            let message =
                "apiVersion \(ManifestExcerpt.excerpt(apiVersion, limit: 100)) is not read by kube-proxy (expected \(kind.apiVersion)); ignored"
            contents.warnings.append(error(.unsupportedKind, kind: apiKind, object: label, message: message))
            return nil
        }
        return (kind, apiKind)
    }

    private func error(
        _ reason: ManifestError.Reason, kind: String? = nil, object: String? = nil, field: String? = nil,
        message: String
    ) -> ManifestError {
        ManifestError(
            reason: reason, file: file, document: number, kind: kind, object: object, field: field, message: message)
    }

    /// Decodes straight from the tree; if that refuses, through JSON text and `JSONDecoder`,
    /// which gives the error its usual field path and wording (or accepts what the fast path
    /// leaves to it, such as `80.0` for an integer).
    private static func decode(_ kind: ManifestObject.Kind, from value: JSONValue) throws -> ManifestObject {
        do {
            switch kind {
            case .service: return .service(try JSONValueDecoder.decode(Service.self, from: value))
            case .endpointSlice: return .endpointSlice(try JSONValueDecoder.decode(EndpointSlice.self, from: value))
            case .endpoints: return .endpoints(try JSONValueDecoder.decode(Endpoints.self, from: value))
            case .serviceCIDR: return .serviceCIDR(try JSONValueDecoder.decode(ServiceCIDR.self, from: value))
            }
        } catch {
            let data = try JSONEncoder().encode(value)
            let decoder = JSONDecoder()
            switch kind {
            case .service: return .service(try decoder.decode(Service.self, from: data))
            case .endpointSlice: return .endpointSlice(try decoder.decode(EndpointSlice.self, from: data))
            case .endpoints: return .endpoints(try decoder.decode(Endpoints.self, from: data))
            case .serviceCIDR: return .serviceCIDR(try decoder.decode(ServiceCIDR.self, from: data))
            }
        }
    }

    /// A missing or empty namespace means `default`, as for `kubectl apply` without `-n`.
    private static func defaultingNamespace(_ object: ManifestObject) -> ManifestObject {
        guard (object.metadata.namespace ?? "").isEmpty else { return object }
        switch object {
        case .service(var value):
            value.metadata.namespace = "default"
            return .service(value)
        case .endpointSlice(var value):
            value.metadata.namespace = "default"
            return .endpointSlice(value)
        case .endpoints(var value):
            value.metadata.namespace = "default"
            return .endpoints(value)
        case .serviceCIDR:
            return object  // cluster-scoped
        }
    }

    /// The field path (`spec.ports[0].port`) and a short message for a decoding error.
    static func describe(_ error: any Error) -> (field: String, message: String) {
        guard let error = error as? DecodingError else { return ("", String(describing: error)) }
        switch error {
        case .typeMismatch(let type, let context):
            return (fieldPath(context.codingPath), "must be \(typeName(type))")
        case .valueNotFound(let type, let context):
            return (fieldPath(context.codingPath), "must be \(typeName(type)), not null")
        case .keyNotFound(let key, let context):
            return (fieldPath(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            return (fieldPath(context.codingPath), ManifestExcerpt.excerpt(context.debugDescription))
        @unknown default:
            return ("", String(describing: error))
        }
    }

    /// `spec.ports[0].port` from a coding path.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue, key.stringValue == "Index \(index)" {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    private static func typeName(_ type: Any.Type) -> String {
        if type == Int.self { return "an integer" }
        if type == String.self { return "a string" }
        if type == Bool.self { return "true or false" }
        if type == IntOrString.self { return "an integer or a string" }
        let name = String(describing: type)
        if name.hasPrefix("Array<") { return "a list" }
        return "an object"
    }
}
