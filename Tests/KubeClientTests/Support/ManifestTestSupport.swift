import Foundation
import KubeAPI
import KubeClient

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "manifests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` inside the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Writes `text` to a hidden temporary file, then renames it over `name`, as editors do.
    func replace(_ name: String, _ text: String) throws {
        let temporary = try write(".\(name).tmp", text)
        guard rename(temporary, path + "/" + name) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    func delete(_ name: String) throws {
        try FileManager.default.removeItem(atPath: path + "/" + name)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Rejects Service ports outside 1–65535, the way Core's validator words it.
let portValidator: ManifestValidator = { object in
    guard case .service(let service) = object else { return [] }
    return (service.spec?.ports ?? []).enumerated().compactMap { index, port in
        (1...65535).contains(port.port ?? 0)
            ? nil
            : StatusCause(
                reason: "FieldValueInvalid", message: "must be between 1 and 65535", field: "spec.ports[\(index)].port")
    }
}

/// YAML for a Service `web` (namespace left out unless given) with one TCP port.
func serviceYAML(_ name: String = "web", namespace: String? = nil, port: Int = 80) -> String {
    """
    apiVersion: v1
    kind: Service
    metadata:
      name: \(name)
    \(namespace.map { "  namespace: \($0)\n" } ?? "")spec:
      clusterIP: 10.96.0.10
      ports:
      - name: http
        port: \(port)
        targetPort: 8080
    """
}

/// YAML for an EndpointSlice of Service `service` with one ready endpoint at `address`.
func sliceYAML(_ name: String = "web-abc", service: String = "web", address: String = "10.244.1.5") -> String {
    """
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: \(name)
      labels:
        kubernetes.io/service-name: \(service)
    addressType: IPv4
    endpoints:
    - addresses: ["\(address)"]
      conditions: {ready: true}
    ports:
    - name: http
      port: 8080
      protocol: TCP
    """
}

extension SourceEvent {
    /// `added Service default/web` and the like: compact, readable expectations.
    var summary: String {
        switch self {
        case .synced: return "synced"
        case .service(let change): return Self.summary(change, "Service", \.metadata)
        case .endpointSlice(let change): return Self.summary(change, "EndpointSlice", \.metadata)
        case .endpoints(let change): return Self.summary(change, "Endpoints", \.metadata)
        case .node(let change): return Self.summary(change, "Node", \.metadata)
        case .serviceCIDR(let change): return Self.summary(change, "ServiceCIDR", \.metadata)
        }
    }

    private static func summary<T>(_ change: ObjectChange<T>, _ kind: String, _ meta: KeyPath<T, ObjectMeta>) -> String {
        func name(_ object: T) -> String {
            "\(object[keyPath: meta].namespace ?? "-")/\(object[keyPath: meta].name ?? "-")"
        }
        switch change {
        case .added(let object): return "added \(kind) \(name(object))"
        case .updated(_, let new): return "updated \(kind) \(name(new))"
        case .deleted(let object): return "deleted \(kind) \(name(object))"
        }
    }
}
