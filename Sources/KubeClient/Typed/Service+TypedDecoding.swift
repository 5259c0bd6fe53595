import KubeAPI

// Typed decoders (see `TypedDecodable`): a stored property added to one of these types needs a
// `TypedField` case (its JSON key) and an arm in the decoder; `TypedDecodingTests` check both.

extension Service: TypedDecodable {
    /// The JSON keys of ``Service``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case apiVersion, kind, metadata, spec, status
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``Service`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> Service {
        // Not the initialiser's defaults: an absent `apiVersion` or `kind` decodes as `nil`.
        var service = Service(apiVersion: nil, kind: nil)
        var hasMetadata = false
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .apiVersion: service.apiVersion = try reader.optionalString(member)
            case .kind: service.kind = try reader.optionalString(member)
            case .metadata:
                // Required: `null` is the `Codable` path's error to report.
                service.metadata = try ObjectMeta.decodeTyped(member, from: reader)
                hasMetadata = true
            case .spec: service.spec = try reader.optionalObject(ServiceSpec.self, member)
            case .status: service.status = try reader.optionalObject(ServiceStatus.self, member)
            }
        }
        guard hasMetadata else { throw TypedDecodingGiveUp() }
        return service
    }
}

extension ServiceSpec: TypedDecodable {
    /// The JSON keys of ``ServiceSpec``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case ports, selector, clusterIP, clusterIPs, type, externalIPs, sessionAffinity, loadBalancerIP
        case loadBalancerSourceRanges, externalName, externalTrafficPolicy, healthCheckNodePort
        case publishNotReadyAddresses, sessionAffinityConfig, ipFamilies, ipFamilyPolicy
        case allocateLoadBalancerNodePorts, loadBalancerClass, internalTrafficPolicy, trafficDistribution
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ServiceSpec`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ServiceSpec {
        var spec = ServiceSpec()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .ports: spec.ports = try reader.optionalObjects(ServicePortSpec.self, member)
            case .selector: spec.selector = try reader.optionalStringMap(member)
            case .clusterIP: spec.clusterIP = try reader.optionalString(member)
            case .clusterIPs: spec.clusterIPs = try reader.optionalStrings(member)
            case .type: spec.type = try reader.optionalString(member)
            case .externalIPs: spec.externalIPs = try reader.optionalStrings(member)
            case .sessionAffinity: spec.sessionAffinity = try reader.optionalString(member)
            case .loadBalancerIP: spec.loadBalancerIP = try reader.optionalString(member)
            case .loadBalancerSourceRanges: spec.loadBalancerSourceRanges = try reader.optionalStrings(member)
            case .externalName: spec.externalName = try reader.optionalString(member)
            case .externalTrafficPolicy: spec.externalTrafficPolicy = try reader.optionalString(member)
            case .healthCheckNodePort: spec.healthCheckNodePort = try reader.optionalInt(member)
            case .publishNotReadyAddresses: spec.publishNotReadyAddresses = try reader.optionalBool(member)
            case .sessionAffinityConfig:
                spec.sessionAffinityConfig = try reader.optionalObject(SessionAffinityConfig.self, member)
            case .ipFamilies: spec.ipFamilies = try reader.optionalStrings(member)
            case .ipFamilyPolicy: spec.ipFamilyPolicy = try reader.optionalString(member)
            case .allocateLoadBalancerNodePorts: spec.allocateLoadBalancerNodePorts = try reader.optionalBool(member)
            case .loadBalancerClass: spec.loadBalancerClass = try reader.optionalString(member)
            case .internalTrafficPolicy: spec.internalTrafficPolicy = try reader.optionalString(member)
            case .trafficDistribution: spec.trafficDistribution = try reader.optionalString(member)
            }
        }
        return spec
    }
}

extension ServicePortSpec: TypedDecodable {
    /// The JSON keys of ``ServicePortSpec``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case name, `protocol`, appProtocol, port, targetPort, nodePort
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ServicePortSpec`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ServicePortSpec {
        var port = ServicePortSpec()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .name: port.name = try reader.optionalString(member)
            case .protocol: port.protocol = try reader.optionalString(member)
            case .appProtocol: port.appProtocol = try reader.optionalString(member)
            case .port: port.port = try reader.optionalInt(member)
            case .targetPort:
                port.targetPort = try reader.optional(member) { value throws(TypedDecodingGiveUp) in
                    try reader.intOrString(value)
                }
            case .nodePort: port.nodePort = try reader.optionalInt(member)
            }
        }
        return port
    }
}

extension SessionAffinityConfig: TypedDecodable {
    /// The JSON keys of ``SessionAffinityConfig``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case clientIP
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``SessionAffinityConfig`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> SessionAffinityConfig {
        var config = SessionAffinityConfig()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .clientIP: config.clientIP = try reader.optionalObject(ClientIPConfig.self, member)
            }
        }
        return config
    }
}

extension ClientIPConfig: TypedDecodable {
    /// The JSON keys of ``ClientIPConfig``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case timeoutSeconds
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ClientIPConfig`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ClientIPConfig {
        var config = ClientIPConfig()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .timeoutSeconds: config.timeoutSeconds = try reader.optionalInt(member)
            }
        }
        return config
    }
}

extension ServiceStatus: TypedDecodable {
    /// The JSON keys of ``ServiceStatus``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case loadBalancer, conditions
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``ServiceStatus`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> ServiceStatus {
        var status = ServiceStatus()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .loadBalancer: status.loadBalancer = try reader.optionalObject(LoadBalancerStatus.self, member)
            case .conditions: status.conditions = try reader.optionalObjects(Condition.self, member)
            }
        }
        return status
    }
}

extension LoadBalancerStatus: TypedDecodable {
    /// The JSON keys of ``LoadBalancerStatus``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case ingress
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``LoadBalancerStatus`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> LoadBalancerStatus {
        var status = LoadBalancerStatus()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .ingress: status.ingress = try reader.optionalObjects(LoadBalancerIngress.self, member)
            }
        }
        return status
    }
}

extension LoadBalancerIngress: TypedDecodable {
    /// The JSON keys of ``LoadBalancerIngress``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case ip, hostname, ipMode, ports
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``LoadBalancerIngress`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> LoadBalancerIngress {
        var ingress = LoadBalancerIngress()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .ip: ingress.ip = try reader.optionalString(member)
            case .hostname: ingress.hostname = try reader.optionalString(member)
            case .ipMode: ingress.ipMode = try reader.optionalString(member)
            case .ports: ingress.ports = try reader.optionalObjects(PortStatus.self, member)
            }
        }
        return ingress
    }
}

extension PortStatus: TypedDecodable {
    /// The JSON keys of ``PortStatus``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case port, `protocol`, error
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``PortStatus`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> PortStatus {
        var status = PortStatus()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .port: status.port = try reader.optionalInt(member)
            case .protocol: status.protocol = try reader.optionalString(member)
            case .error: status.error = try reader.optionalString(member)
            }
        }
        return status
    }
}

extension Condition: TypedDecodable {
    /// The JSON keys of ``Condition``'s fields.
    enum TypedField: String, CaseIterable, Sendable {
        case type, status, observedGeneration, lastTransitionTime, reason, message
    }

    /// The key table of ``TypedField``.
    static let typedFields = FieldTable<TypedField>()

    /// Decodes ``Condition`` member by member; gives up where `Codable` might answer differently.
    static func decodeTyped<Reader: TypedJSONReader>(
        _ value: Reader.Value, from reader: Reader
    ) throws(TypedDecodingGiveUp) -> Condition {
        var condition = Condition()
        try reader.members(value, typedFields) { field, member throws(TypedDecodingGiveUp) in
            switch field {
            case .type: condition.type = try reader.optionalString(member)
            case .status: condition.status = try reader.optionalString(member)
            case .observedGeneration: condition.observedGeneration = try reader.optionalInt(member)
            case .lastTransitionTime: condition.lastTransitionTime = try reader.optionalString(member)
            case .reason: condition.reason = try reader.optionalString(member)
            case .message: condition.message = try reader.optionalString(member)
            }
        }
        return condition
    }
}

extension Service: TypedDecodingRoot {
    /// Decodes ``Service`` from a manifest tree (specialised for ``JSONValueReader``).
    static func decodeTyped(tree value: JSONValue) throws(TypedDecodingGiveUp) -> Service {
        try decodeTyped(value, from: JSONValueReader())
    }

    /// Decodes ``Service`` from the API tape (specialised for ``JSONTapeReader``).
    static func decodeTyped(tape index: Int, in reader: JSONTapeReader) throws(TypedDecodingGiveUp) -> Service {
        try decodeTyped(index, from: reader)
    }
}
