/// `discovery.k8s.io/v1.Endpoint`: one backend of a slice. Named `EndpointSliceEndpoint` so it
/// does not clash with Core's model type `Endpoint`.
///
/// This type and the others in this file are also decoded by hand (`KubeClient/Typed/EndpointSlice+TypedDecoding.swift`, for start-up
/// speed): a new stored property needs a `TypedField` case and a `switch` arm there too.
public struct EndpointSliceEndpoint: Codable, Sendable, Hashable {
    /// The endpoint's addresses (the API allows exactly one; consumers use the first).
    public var addresses: [String]?
    /// Readiness; absent conditions mean "unknown", which consumers treat as ready/serving.
    public var conditions: EndpointConditions?
    /// DNS host name.
    public var hostname: String?
    /// The Pod behind the endpoint.
    public var targetRef: ObjectReference?
    /// Deprecated topology labels; kept to round-trip.
    public var deprecatedTopology: [String: String]?
    /// Node hosting the endpoint: drives `Local` traffic policies.
    public var nodeName: String?
    /// Zone of the endpoint.
    public var zone: String?
    /// Topology-aware routing hints.
    public var hints: EndpointHints?

    /// Creates an endpoint; every field defaults to absent.
    public init(
        addresses: [String]? = nil, conditions: EndpointConditions? = nil, hostname: String? = nil,
        targetRef: ObjectReference? = nil, deprecatedTopology: [String: String]? = nil, nodeName: String? = nil,
        zone: String? = nil, hints: EndpointHints? = nil
    ) {
        self.addresses = addresses
        self.conditions = conditions
        self.hostname = hostname
        self.targetRef = targetRef
        self.deprecatedTopology = deprecatedTopology
        self.nodeName = nodeName
        self.zone = zone
        self.hints = hints
    }
}

/// `discovery.k8s.io/v1.EndpointConditions`. `nil` means unknown: upstream treats unknown
/// `ready`/`serving` as true and unknown `terminating` as false.
public struct EndpointConditions: Codable, Sendable, Hashable {
    /// Ready to receive traffic (serving and not terminating).
    public var ready: Bool?
    /// Serving, regardless of termination.
    public var serving: Bool?
    /// Terminating.
    public var terminating: Bool?

    /// Creates conditions.
    public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }
}

/// `discovery.k8s.io/v1.EndpointHints`: where this endpoint should be consumed.
public struct EndpointHints: Codable, Sendable, Hashable {
    /// Zones that should consume this endpoint.
    public var forZones: [ForZone]?
    /// Nodes that should consume this endpoint.
    public var forNodes: [ForNode]?

    /// Creates hints.
    public init(forZones: [ForZone]? = nil, forNodes: [ForNode]? = nil) {
        self.forZones = forZones
        self.forNodes = forNodes
    }
}

/// `discovery.k8s.io/v1.ForZone`: a zone hint.
public struct ForZone: Codable, Sendable, Hashable {
    /// Zone name.
    public var name: String?

    /// Creates a hint.
    public init(name: String? = nil) {
        self.name = name
    }
}

/// `discovery.k8s.io/v1.ForNode`: a node hint.
public struct ForNode: Codable, Sendable, Hashable {
    /// Node name.
    public var name: String?

    /// Creates a hint.
    public init(name: String? = nil) {
        self.name = name
    }
}
