import KubeAPI

// Typed decoders (see `TypedDecodable`): a stored property added to one of these types needs a
// `TypedField` case (its JSON key) and an arm in the decoder; `TypedDecodingTests` check both.

extension ObjectMeta: TypedDecodable {
    /// The JSON keys of ``ObjectMeta``'s fields (`managedFields` is not modelled, so skipped).
    enum TypedField: String, CaseIterable, Sendable {
        case name, generateName, namespace, selfLink, uid, resourceVersion, generation, creationTimestamp
        case deletionTimestamp, deletionGracePeriodSeconds, labels, annotations, ownerReferences, finalizers
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ObjectMeta`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ObjectMeta {
        var meta = ObjectMeta()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .name: meta.name = try reader.optionalString(member)
            case .generateName: meta.generateName = try reader.optionalString(member)
            case .namespace: meta.namespace = try reader.optionalString(member)
            case .selfLink: meta.selfLink = try reader.optionalString(member)
            case .uid: meta.uid = try reader.optionalString(member)
            case .resourceVersion: meta.resourceVersion = try reader.optionalString(member)
            case .generation: meta.generation = try reader.optionalInt(member)
            case .creationTimestamp: meta.creationTimestamp = try reader.optionalString(member)
            case .deletionTimestamp: meta.deletionTimestamp = try reader.optionalString(member)
            case .deletionGracePeriodSeconds: meta.deletionGracePeriodSeconds = try reader.optionalInt(member)
            case .labels: meta.labels = try reader.optionalStringMap(member)
            case .annotations: meta.annotations = try reader.optionalStringMap(member)
            case .ownerReferences: meta.ownerReferences = try reader.optionalObjects(OwnerReference.self, member)
            case .finalizers: meta.finalizers = try reader.optionalStrings(member)
            }
        }
        return meta
    }
}

extension OwnerReference: TypedDecodable {
    /// The JSON keys of ``OwnerReference``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case apiVersion, kind, name, uid, controller, blockOwnerDeletion
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``OwnerReference`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> OwnerReference {
        var owner = OwnerReference()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .apiVersion: owner.apiVersion = try reader.optionalString(member)
            case .kind: owner.kind = try reader.optionalString(member)
            case .name: owner.name = try reader.optionalString(member)
            case .uid: owner.uid = try reader.optionalString(member)
            case .controller: owner.controller = try reader.optionalBool(member)
            case .blockOwnerDeletion: owner.blockOwnerDeletion = try reader.optionalBool(member)
            }
        }
        return owner
    }
}

extension ObjectMeta: TypedDecodingRoot {
    /// Decodes ``ObjectMeta`` from a manifest tree (specialised for ``JSONValueReader``).
    static func decodeTyped(tree value: JSONValue) throws(TypedDecodingGiveUp) -> ObjectMeta {
        try decodeTyped(value, from: JSONValueReader())
    }

    /// Decodes ``ObjectMeta`` from the API tape (specialised for ``JSONTapeReader``).
    static func decodeTyped(tape index: Int, in reader: JSONTapeReader) throws(TypedDecodingGiveUp) -> ObjectMeta {
        try decodeTyped(index, from: reader)
    }
}
