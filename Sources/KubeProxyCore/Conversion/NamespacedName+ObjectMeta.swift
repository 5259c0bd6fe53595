import KubeAPI

extension NamespacedName {
    /// The namespace an object without one belongs to, as `kubectl apply` assumes.
    public static let defaultNamespace = "default"

    /// The key of an object; `nil` without a name. A missing or empty namespace means `default`,
    /// so objects from manifest files that leave it out meet their Services.
    public init?(_ metadata: ObjectMeta) {
        guard let name = metadata.name, !name.isEmpty else { return nil }
        let namespace = metadata.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? NamespacedName.defaultNamespace
        self.init(namespace: namespace, name: name)
    }
}
