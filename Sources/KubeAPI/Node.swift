/// `core/v1.Node`: kube-proxy reads its own Node for the pod CIDRs (`--detect-local-mode=NodeCIDR`),
/// its addresses (NodePort addresses) and its labels (topology zone).
public struct Node: Codable, Sendable, Hashable {
    /// `v1`.
    public var apiVersion: String?
    /// `Node`.
    public var kind: String?
    /// Name and labels (`topology.kubernetes.io/zone`).
    public var metadata: ObjectMeta
    /// Pod CIDRs, provider id, taints.
    public var spec: NodeSpec?
    /// Addresses and conditions.
    public var status: NodeStatus?

    /// Creates a Node.
    public init(
        apiVersion: String? = "v1", kind: String? = "Node", metadata: ObjectMeta = ObjectMeta(),
        spec: NodeSpec? = nil, status: NodeStatus? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `core/v1.NodeSpec` (the fields kube-proxy can use).
public struct NodeSpec: Codable, Sendable, Hashable {
    /// Primary pod CIDR.
    public var podCIDR: String?
    /// Pod CIDRs, one per family.
    public var podCIDRs: [String]?
    /// Cloud provider id.
    public var providerID: String?
    /// Whether new pods may be scheduled here.
    public var unschedulable: Bool?
    /// Taints.
    public var taints: [Taint]?

    /// Creates a spec.
    public init(
        podCIDR: String? = nil, podCIDRs: [String]? = nil, providerID: String? = nil, unschedulable: Bool? = nil,
        taints: [Taint]? = nil
    ) {
        self.podCIDR = podCIDR
        self.podCIDRs = podCIDRs
        self.providerID = providerID
        self.unschedulable = unschedulable
        self.taints = taints
    }
}

/// `core/v1.Taint`.
public struct Taint: Codable, Sendable, Hashable {
    /// Taint key.
    public var key: String?
    /// Taint value.
    public var value: String?
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    public var effect: String?
    /// RFC 3339 time the taint was added, as sent.
    public var timeAdded: String?

    /// Creates a taint.
    public init(key: String? = nil, value: String? = nil, effect: String? = nil, timeAdded: String? = nil) {
        self.key = key
        self.value = value
        self.effect = effect
        self.timeAdded = timeAdded
    }
}

/// `core/v1.NodeStatus` (the fields kube-proxy can use).
public struct NodeStatus: Codable, Sendable, Hashable {
    /// The node's addresses.
    public var addresses: [NodeAddress]?
    /// The node's conditions.
    public var conditions: [NodeCondition]?

    /// Creates a status.
    public init(addresses: [NodeAddress]? = nil, conditions: [NodeCondition]? = nil) {
        self.addresses = addresses
        self.conditions = conditions
    }
}

/// `core/v1.NodeAddress`.
public struct NodeAddress: Codable, Sendable, Hashable {
    /// `InternalIP`, `ExternalIP`, `Hostname`, …
    public var type: String?
    /// The address.
    public var address: String?

    /// Creates an address.
    public init(type: String? = nil, address: String? = nil) {
        self.type = type
        self.address = address
    }
}

/// `core/v1.NodeCondition`.
public struct NodeCondition: Codable, Sendable, Hashable {
    /// `Ready`, `MemoryPressure`, …
    public var type: String?
    /// `True`, `False` or `Unknown`.
    public var status: String?
    /// RFC 3339 time of the last heartbeat, as sent.
    public var lastHeartbeatTime: String?
    /// RFC 3339 time of the last status change, as sent.
    public var lastTransitionTime: String?
    /// Machine-readable reason.
    public var reason: String?
    /// Human-readable message.
    public var message: String?

    /// Creates a condition.
    public init(
        type: String? = nil, status: String? = nil, lastHeartbeatTime: String? = nil,
        lastTransitionTime: String? = nil, reason: String? = nil, message: String? = nil
    ) {
        self.type = type
        self.status = status
        self.lastHeartbeatTime = lastHeartbeatTime
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}
