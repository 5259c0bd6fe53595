import Foundation
import KubeAPI

/// The OpenAPI v3 documents kubectl reads before it writes (`/openapi/v3` and one document per
/// group version), reduced to what it looks at.
///
/// kubectl's default `--validate=strict` first asks whether the server validates fields itself:
/// it looks for a `fieldValidation` query parameter on the PATCH operation of the object's kind
/// (found by `x-kubernetes-group-version-kind`). The fake answers yes, so kubectl sends
/// `fieldValidation=Strict` and validates nothing on its side (it would otherwise need the full
/// schemas). The component schemas deliberately carry no `x-kubernetes-group-version-kind`:
/// kubectl then computes `apply` patches from its compiled-in types, the same patch metadata
/// upstream serves and ``FakeAPIPatchSchema`` transcribes. There is no `/openapi/v2`; kubectl
/// falls back from it silently.
enum FakeAPIOpenAPI {
    /// The group-version path (`api/v1`, `apis/discovery.k8s.io/v1`) of every served resource.
    static var groupVersionPaths: [String] {
        var paths: [String] = []
        for resource in FakeAPIResource.allCases where !paths.contains(String(resource.groupVersionPath.dropFirst())) {
            paths.append(String(resource.groupVersionPath.dropFirst()))
        }
        return paths
    }

    /// The document at `path` (`/openapi/v3` or `/openapi/v3/<group-version path>`), or `nil`.
    static func document(at path: String) -> JSONValue? {
        if path == "/openapi/v3" {
            var paths: [String: JSONValue] = [:]
            for groupVersion in groupVersionPaths {
                let hash = fingerprint(groupVersionDocument(groupVersion))
                paths[groupVersion] = .object(["serverRelativeURL": .string("/openapi/v3/\(groupVersion)?hash=\(hash)")])
            }
            return .object(["paths": .object(paths)])
        }
        let prefix = "/openapi/v3/"
        guard path.hasPrefix(prefix) else { return nil }
        let groupVersion = String(path.dropFirst(prefix.count))
        guard groupVersionPaths.contains(groupVersion) else { return nil }
        return groupVersionDocument(groupVersion)
    }

    /// A content hash for the `hash` query kubectl caches documents under, so a changed
    /// document is never served from a stale cache (FNV-1a over the canonical JSON).
    static func fingerprint(_ document: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(document)) ?? Data()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16, uppercase: true)
    }

    private static func groupVersionDocument(_ groupVersion: String) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [
            patchSchema: .object(["type": .string("object"), "description": .string("A patch document (JSON, merge or strategic merge).")])
        ]
        for resource in FakeAPIResource.allCases where resource.groupVersionPath == "/" + groupVersion {
            let schema = schemaName(resource)
            schemas[schema] = .object([
                "type": .string("object"),
                "description": .string("\(resource.kind); the fake API server validates fields itself (fieldValidation)."),
            ])
            let collection =
                resource.isNamespaced
                ? "/\(groupVersion)/namespaces/{namespace}/\(resource.rawValue)" : "/\(groupVersion)/\(resource.rawValue)"
            paths[collection] = .object([
                "get": operation(resource, action: "list", parameters: [], body: nil),
                "post": operation(resource, action: "post", parameters: writeParameters, body: ["application/json": schema]),
            ])
            paths[collection + "/{name}"] = .object([
                "get": operation(resource, action: "get", parameters: [], body: nil),
                "put": operation(resource, action: "put", parameters: writeParameters, body: ["application/json": schema]),
                "patch": operation(
                    resource, action: "patch", parameters: writeParameters,
                    body: Dictionary(uniqueKeysWithValues: FakeAPIPatchType.allCases.map { ($0.rawValue, patchSchema) })
                ),
                "delete": operation(resource, action: "delete", parameters: [], body: nil),
            ])
        }
        return .object([
            "openapi": .string("3.0.0"),
            "info": .object(["title": .string("Kubernetes"), "version": .string(FakeAPIDiscovery.gitVersion)]),
            "paths": .object(paths),
            "components": .object(["schemas": .object(schemas)]),
        ])
    }

    private static let patchSchema = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"

    private static func schemaName(_ resource: FakeAPIResource) -> String {
        resource.group.isEmpty ? "io.k8s.api.core.v1.\(resource.kind)" : "io.k8s.api.discovery.v1.\(resource.kind)"
    }

    /// The query parameters of writes; `fieldValidation` is the one kubectl looks for.
    private static var writeParameters: [JSONValue] {
        ["dryRun", "fieldManager", "fieldValidation"].map { name in
            .object(["name": .string(name), "in": .string("query"), "schema": .object(["type": .string("string")])])
        }
    }

    private static func operation(_ resource: FakeAPIResource, action: String, parameters: [JSONValue], body: [String: String]?)
        -> JSONValue
    {
        let reference: JSONValue = .object(["$ref": .string("#/components/schemas/\(schemaName(resource))")])
        var members: [String: JSONValue] = [
            "operationId": .string("\(action)\(resource.kind)"),
            "x-kubernetes-action": .string(action),
            "x-kubernetes-group-version-kind": .object([
                "group": .string(resource.group), "version": .string(resource.version), "kind": .string(resource.kind),
            ]),
            "parameters": .array(parameters),
            "responses": .object([
                "200": .object(["description": .string("OK"), "content": .object(["application/json": .object(["schema": reference])])])
            ]),
        ]
        if let body {
            var content: [String: JSONValue] = [:]
            for (type, schema) in body { content[type] = .object(["schema": .object(["$ref": .string("#/components/schemas/\(schema)")])]) }
            members["requestBody"] = .object(["content": .object(content), "required": .bool(true)])
        }
        return .object(members)
    }
}
