import KubeAPI

// Typed decoders (see `TypedDecodable`): a stored property added to one of these types needs a
// `TypedField` case (its JSON key) and an arm in the decoder; `TypedDecodingTests` check both.

extension EndpointSlice: TypedDecodable {
    /// The JSON keys of ``EndpointSlice``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case apiVersion, kind, metadata, addressType, endpoints, ports
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``EndpointSlice`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> EndpointSlice {
        // Not the initialiser's defaults: an absent `apiVersion` or `kind` decodes as `nil`.
        var slice = EndpointSlice(apiVersion: nil, kind: nil)
        var hasMetadata = false
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .apiVersion: slice.apiVersion = try reader.optionalString(member)
            case .kind: slice.kind = try reader.optionalString(member)
            case .metadata:
                // Required: `null` is the `Codable` path's error to report.
                slice.metadata = try ObjectMeta.decodeTyped(member, from: reader)
                hasMetadata = true
            case .addressType: slice.addressType = try reader.optionalString(member)
            case .endpoints: slice.endpoints = try reader.optionalObjects(EndpointSliceEndpoint.self, member)
            case .ports: slice.ports = try reader.optionalObjects(EndpointSlicePort.self, member)
            }
        }
        guard hasMetadata else { throw TypedDecodingGiveUp() }
        return slice
    }
}

extension EndpointSliceEndpoint: TypedDecodable {
    /// The JSON keys of ``EndpointSliceEndpoint``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case addresses, conditions, hostname, targetRef, deprecatedTopology, nodeName, zone, hints
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``EndpointSliceEndpoint`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> EndpointSliceEndpoint {
        var endpoint = EndpointSliceEndpoint()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .addresses: endpoint.addresses = try reader.optionalStrings(member)
            case .conditions: endpoint.conditions = try reader.optionalObject(EndpointConditions.self, member)
            case .hostname: endpoint.hostname = try reader.optionalString(member)
            case .targetRef: endpoint.targetRef = try reader.optionalObject(ObjectReference.self, member)
            case .deprecatedTopology: endpoint.deprecatedTopology = try reader.optionalStringMap(member)
            case .nodeName: endpoint.nodeName = try reader.optionalString(member)
            case .zone: endpoint.zone = try reader.optionalString(member)
            case .hints: endpoint.hints = try reader.optionalObject(EndpointHints.self, member)
            }
        }
        return endpoint
    }
}

extension EndpointConditions: TypedDecodable {
    /// The JSON keys of ``EndpointConditions``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case ready, serving, terminating
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``EndpointConditions`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> EndpointConditions {
        var conditions = EndpointConditions()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .ready: conditions.ready = try reader.optionalBool(member)
            case .serving: conditions.serving = try reader.optionalBool(member)
            case .terminating: conditions.terminating = try reader.optionalBool(member)
            }
        }
        return conditions
    }
}

extension EndpointHints: TypedDecodable {
    /// The JSON keys of ``EndpointHints``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case forZones, forNodes
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``EndpointHints`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> EndpointHints {
        var hints = EndpointHints()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .forZones: hints.forZones = try reader.optionalObjects(ForZone.self, member)
            case .forNodes: hints.forNodes = try reader.optionalObjects(ForNode.self, member)
            }
        }
        return hints
    }
}

extension ForZone: TypedDecodable {
    /// The JSON keys of ``ForZone``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case name
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ForZone`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ForZone {
        var zone = ForZone()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .name: zone.name = try reader.optionalString(member)
            }
        }
        return zone
    }
}

extension ForNode: TypedDecodable {
    /// The JSON keys of ``ForNode``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case name
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ForNode`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ForNode {
        var node = ForNode()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .name: node.name = try reader.optionalString(member)
            }
        }
        return node
    }
}

extension ObjectReference: TypedDecodable {
    /// The JSON keys of ``ObjectReference``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case kind, namespace, name, uid, apiVersion, resourceVersion, fieldPath
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ObjectReference`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ObjectReference {
        var reference = ObjectReference()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .kind: reference.kind = try reader.optionalString(member)
            case .namespace: reference.namespace = try reader.optionalString(member)
            case .name: reference.name = try reader.optionalString(member)
            case .uid: reference.uid = try reader.optionalString(member)
            case .apiVersion: reference.apiVersion = try reader.optionalString(member)
            case .resourceVersion: reference.resourceVersion = try reader.optionalString(member)
            case .fieldPath: reference.fieldPath = try reader.optionalString(member)
            }
        }
        return reference
    }
}

extension EndpointSlicePort: TypedDecodable {
    /// The JSON keys of ``EndpointSlicePort``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case name, `protocol`, port, appProtocol
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``EndpointSlicePort`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> EndpointSlicePort {
        var port = EndpointSlicePort()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .name: port.name = try reader.optionalString(member)
            case .protocol: port.protocol = try reader.optionalString(member)
            case .port: port.port = try reader.optionalInt(member)
            case .appProtocol: port.appProtocol = try reader.optionalString(member)
            }
        }
        return port
    }
}

extension EndpointSlice: TypedDecodingRoot {
    /// Decodes ``EndpointSlice`` from a manifest tree (specialised for ``JSONValueReader``).
    static func decodeTyped(tree value: JSONValue) throws(TypedDecodingGiveUp) -> EndpointSlice {
        try decodeTyped(value, from: JSONValueReader())
    }

    /// Decodes ``EndpointSlice`` from the API tape (specialised for ``JSONTapeReader``).
    static func decodeTyped(tape index: Int, in reader: JSONTapeReader) throws(TypedDecodingGiveUp) -> EndpointSlice {
        try decodeTyped(index, from: reader)
    }
}
