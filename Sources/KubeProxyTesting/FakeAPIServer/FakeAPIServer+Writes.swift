import Foundation
import KubeAPI

/// The patch formats `PATCH` accepts, chosen by the request's `Content-Type`. Server-side apply
/// (`application/apply-patch+yaml`) is not among them: the fake keeps no managed fields.
public enum FakeAPIPatchType: String, Sendable, CaseIterable {
    /// RFC 6902 JSON patch (`kubectl patch --type json`).
    case json = "application/json-patch+json"
    /// RFC 7386 JSON merge patch (`kubectl patch --type merge`).
    case merge = "application/merge-patch+json"
    /// Strategic merge patch (`kubectl apply`, `kubectl edit`, `kubectl patch`).
    case strategicMerge = "application/strategic-merge-patch+json"
}

/// What the server does with fields it does not store (the `fieldValidation` query parameter):
/// reject the request (`Strict`, what kubectl sends by default), accept it with a `Warning`
/// header per field (`Warn`, the default without the parameter), or drop them silently.
enum FakeAPIFieldValidation: String, Sendable {
    /// 400 `BadRequest` naming every unknown field.
    case strict = "Strict"
    /// A `Warning: 299 - "unknown field …"` header per unknown field.
    case warn = "Warn"
    /// Unknown fields are dropped without a word.
    case ignore = "Ignore"

    /// The directive of `query`; `Warn` when absent, as on a real server.
    init(query: [String: String]) throws(Status) {
        let text = query["fieldValidation"] ?? ""
        guard !text.isEmpty else {
            self = .warn
            return
        }
        guard let value = Self(rawValue: text) else {
            throw FakeAPIStatus.badRequest(
                "fieldValidation: Unsupported value: \"\(text)\": supported values: \"Ignore\", \"Strict\", \"Warn\"")
        }
        self = value
    }
}

/// Writes: decoding with field validation, `dryRun`, and `PATCH` in its three formats.
extension FakeAPIServer {
    /// An object decoded from a request body, with the warnings its unknown fields earned.
    struct Decoded {
        /// The typed object.
        var object: any FakeAPIObject
        /// `unknown field "spec.foo"` for each field the fake does not store (under `Warn`).
        var warnings: [String]
    }

    /// Decodes `json` as `resource`, comparing it with what the typed object keeps: a field
    /// that does not survive the round trip is one the fake cannot store.
    ///
    /// - Throws: 400 `BadRequest` for a body of the wrong shape, or (under `Strict`) naming the
    ///   unknown fields as the real server does.
    static func decode(_ json: JSONValue, as resource: FakeAPIResource, validation: FakeAPIFieldValidation) throws(Status) -> Decoded {
        let object = try decode(FakeAPIJSON.encode(json), as: resource)
        guard validation != .ignore else { return Decoded(object: object, warnings: []) }
        let kept = (try? JSONDecoder().decode(JSONValue.self, from: Data(FakeAPIJSON.encode(object)))) ?? .null
        let unknown = unknownFields(json, kept: kept, path: "").map { "unknown field \"\($0)\"" }
        if validation == .strict, !unknown.isEmpty {
            throw FakeAPIStatus.badRequest(
                "\(resource.kind) in version \"\(resource.version)\" cannot be handled as a \(resource.kind): strict decoding error: "
                    + unknown.joined(separator: ", "))
        }
        return Decoded(object: object, warnings: unknown)
    }

    /// Decodes a request body as `resource` with the request's field validation.
    static func decodeBody(_ request: FakeAPIRequest, as resource: FakeAPIResource) throws(Status) -> Decoded {
        let validation = try FakeAPIFieldValidation(query: request.query)
        return try decode(try parseJSON(request.body, what: "the body of the request"), as: resource, validation: validation)
    }

    /// Member paths (`spec.foo`, `spec.ports[0].bar`) present with a value in `given` but
    /// missing from `kept`.
    static func unknownFields(_ given: JSONValue, kept: JSONValue, path: String) -> [String] {
        switch (given, kept) {
        case (.object(let members), .object(let keptMembers)):
            return members.keys.sorted().flatMap { key -> [String] in
                let value = members[key] ?? .null
                let child = path.isEmpty ? key : "\(path).\(key)"
                if value == .null { return [] }
                guard let keptValue = keptMembers[key] else { return [child] }
                return unknownFields(value, kept: keptValue, path: child)
            }
        case (.array(let items), .array(let keptItems)):
            return zip(items, keptItems).enumerated().flatMap { index, pair in
                unknownFields(pair.0, kept: pair.1, path: "\(path)[\(index)]")
            }
        default:
            return []
        }
    }

    /// Parses JSON bytes.
    ///
    /// - Throws: 400 `BadRequest` naming `what` and the parse error.
    static func parseJSON(_ bytes: [UInt8], what: String) throws(Status) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw FakeAPIStatus.badRequest("\(what) is not valid JSON: \(error)")
        }
    }

    /// Whether the request asks for a dry run (`dryRun=All`).
    ///
    /// - Throws: 400 `BadRequest` for any other value, as the real server.
    static func isDryRun(_ request: FakeAPIRequest) throws(Status) -> Bool {
        guard let value = request.query["dryRun"], !value.isEmpty else { return false }
        guard value == "All" else { throw FakeAPIStatus.badRequest("dryRun: Unsupported value: \"\(value)\": supported values: \"All\"") }
        return true
    }

    /// Runs a write on the store, or for a dry run on a copy of it: the answer is the same, no
    /// resourceVersion is taken and no watcher hears of it.
    func write<R>(dryRun: Bool, _ body: (inout FakeAPIStore) throws(Status) -> R) throws(Status) -> R {
        guard dryRun else { return try mutate(body) }
        var scratch = state.withLock { $0.store }
        return try body(&scratch)
    }

    /// `Warning` headers (RFC 7234 code 299, as kube-apiserver sends them) for `warnings`.
    static func warningHeaders(_ warnings: [String]) -> [(String, String)] {
        warnings.map { warning in
            ("Warning", "299 - \"\(warning.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"")
        }
    }

    /// `PATCH` of one object: the stored object as JSON, the patch applied in the format the
    /// `Content-Type` names, the result decoded and validated like a PUT (name and namespace
    /// must not change; a `metadata.resourceVersion` in the patch is a precondition).
    func patch(_ request: FakeAPIRequest, resource: FakeAPIResource, namespace: String?, name: String) throws(Status) -> FakeAPIResponse {
        guard let type = request.contentType.flatMap(FakeAPIPatchType.init(rawValue:)) else {
            throw FakeAPIStatus.unsupportedMediaType(request.contentType)
        }
        let validation = try FakeAPIFieldValidation(query: request.query)
        let dryRun = try Self.isDryRun(request)
        let patchDocument = try Self.parseJSON(request.body, what: "the patch")
        let key = FakeAPIObjectKey.make(namespace: resource.isNamespaced ? (namespace ?? "default") : nil, name: name)
        var warnings: [String] = []
        let updated = try write(dryRun: dryRun) { store throws(Status) -> any FakeAPIObject in
            guard let current = store.get(resource, key: key) else { throw FakeAPIStatus.notFound(resource, name: name) }
            let original = try Self.parseJSON(FakeAPIJSON.encode(current), what: "the stored object")
            let patched: JSONValue
            do throws(FakeAPIPatchError) {
                switch type {
                case .json: patched = try FakeAPIPatch.jsonPatch(original, operations: patchDocument)
                case .merge: patched = FakeAPIPatch.mergePatch(original, patchDocument)
                case .strategicMerge:
                    patched = try FakeAPIPatch.strategicMergePatch(original, patchDocument, schema: .schema(for: resource))
                }
            } catch {
                throw FakeAPIStatus.invalid("\(resource.rawValue) \"\(name)\": cannot apply the \(type.rawValue) patch: \(error.message)")
            }
            let decoded = try Self.decode(patched, as: resource, validation: validation)
            warnings = decoded.warnings
            guard decoded.object.metadata.name == name else {
                throw FakeAPIStatus.badRequest(
                    "the name of the object (\(decoded.object.metadata.name ?? "")) does not match the name on the URL (\(name))")
            }
            guard decoded.object.metadata.namespace == current.metadata.namespace else {
                throw FakeAPIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            return try store.update(decoded.object)
        }
        var response = FakeAPIResponse.json(FakeAPIJSON.encode(updated))
        response.headers = Self.warningHeaders(warnings)
        return response
    }
}
