import KubeAPI

/// Which objects of one resource a LIST or WATCH sees: the namespace from the path, the
/// `labelSelector` and the `fieldSelector` (`metadata.name` / `metadata.namespace` with `=`,
/// `==` or `!=`, the fields every resource supports upstream).
public struct FakeAPIFilter: Sendable, Hashable {
    /// The resource.
    public var resource: FakeAPIResource
    /// Only this namespace; `nil` for all namespaces (and for cluster-scoped resources).
    public var namespace: String?
    /// Label requirements.
    public var labels: LabelSelector
    /// Field requirements as (field, must equal?, value).
    public var fields: [FieldRequirement]

    /// One `fieldSelector` term.
    public struct FieldRequirement: Sendable, Hashable {
        /// `metadata.name` or `metadata.namespace`.
        public var field: String
        /// `=`/`==` when true, `!=` when false.
        public var equals: Bool
        /// The value compared with.
        public var value: String
    }

    /// Creates a filter.
    public init(
        resource: FakeAPIResource, namespace: String? = nil, labels: LabelSelector = .everything,
        fields: [FieldRequirement] = []
    ) {
        self.resource = resource
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
    }

    /// Parses a `fieldSelector` value.
    ///
    /// - Throws: a 400 `Status` for a malformed term or an unsupported field, as upstream
    ///   (`field label not supported: spec.foo`).
    static func parseFields(_ text: String) throws(Status) -> [FieldRequirement] {
        var result: [FieldRequirement] = []
        for term in text.split(separator: ",") where !term.trimmingCharacters(in: .whitespaces).isEmpty {
            let term = String(term).trimmingCharacters(in: .whitespaces)
            let requirement: FieldRequirement
            if let range = term.range(of: "!=") {
                requirement = FieldRequirement(
                    field: String(term[..<range.lowerBound]), equals: false, value: String(term[range.upperBound...]))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                requirement = FieldRequirement(
                    field: String(term[..<range.lowerBound]), equals: true, value: String(term[range.upperBound...]))
            } else {
                throw FakeAPIStatus.badRequest(
                    "invalid field selector: \"\(text)\": invalid selector: '\(term)'; can't understand '\(term)'")
            }
            guard requirement.field == "metadata.name" || requirement.field == "metadata.namespace" else {
                throw FakeAPIStatus.badRequest("field label not supported: \(requirement.field)")
            }
            result.append(requirement)
        }
        return result
    }

    /// Whether `object` is visible through this filter.
    func matches(_ object: any FakeAPIObject) -> Bool {
        guard object.resource == resource else { return false }
        if let namespace, resource.isNamespaced, object.metadata.namespace != namespace { return false }
        guard labels.matches(object.metadata.labels) else { return false }
        return fields.allSatisfy { requirement in
            let actual = requirement.field == "metadata.name" ? object.metadata.name : object.metadata.namespace
            return ((actual ?? "") == requirement.value) == requirement.equals
        }
    }

    /// What a watcher with this filter sees of `change`, following the watch cache: an object
    /// that starts matching is ADDED, one that stops matching is DELETED (its previous content
    /// at the change's resourceVersion), one that matches before and after is MODIFIED.
    func event(for change: FakeAPIChange) -> FakeAPIWatchEvent? {
        guard change.resource == resource else { return nil }
        let nowMatches = change.current.map(matches) ?? false
        let usedToMatch = change.previous.map(matches) ?? false
        switch (usedToMatch, nowMatches) {
        case (false, true):
            return change.current.map { .object(type: .added, $0) }
        case (true, true):
            return change.current.map { .object(type: .modified, $0) }
        case (true, false):
            return change.previous.map { .object(type: .deleted, $0.withResourceVersion(change.resourceVersion)) }
        case (false, false):
            return nil
        }
    }
}
