/// The strategic-merge-patch metadata of the kinds the fake stores: which lists merge (and by
/// which key) instead of being replaced. Upstream derives this from the Go struct tags
/// `patchStrategy:"merge" patchMergeKey:"…"`; this is a transcription of those tags for the
/// fields of `Service`, `EndpointSlice`, `Endpoints` and `Node` (and their `ObjectMeta`), so a
/// patch computed by kubectl lands as it would on a real server. Fields not listed here are
/// maps (merged key by key) or scalars and lists without a strategy (replaced).
public struct FakeAPIPatchSchema: Sendable, Hashable {
    /// How a list field is patched.
    public enum ListStrategy: Sendable, Hashable {
        /// The patch's list replaces the stored one (no `patchStrategy` tag, or `atomic`).
        case replace
        /// A list of scalars merged as a set (`patchStrategy:"merge"` without a key, e.g.
        /// `metadata.finalizers`, Node `spec.podCIDRs`).
        case mergeScalars
        /// A list of objects merged element by element, matched on this field
        /// (`patchMergeKey`, e.g. `port` for Service `spec.ports`).
        case mergeByKey(String)
    }

    /// The strategy when this schema describes a list; `.replace` otherwise.
    public var list: ListStrategy
    /// Schemas of the members of an object (or of each element of a list of objects).
    public var fields: [String: FakeAPIPatchSchema]

    /// A schema node; by default a replaced list / plain map member.
    public init(list: ListStrategy = .replace, fields: [String: FakeAPIPatchSchema] = [:]) {
        self.list = list
        self.fields = fields
    }

    /// Everything replaced or merged as a plain map: what an unknown field gets.
    public static let plain = FakeAPIPatchSchema()

    /// The schema of member `name`, or ``plain`` when nothing is known about it.
    func field(_ name: String) -> FakeAPIPatchSchema {
        fields[name] ?? .plain
    }

    /// `ObjectMeta`: `finalizers` merge as a set, `ownerReferences` by `uid`.
    static let objectMeta = FakeAPIPatchSchema(fields: [
        "finalizers": FakeAPIPatchSchema(list: .mergeScalars),
        "ownerReferences": FakeAPIPatchSchema(list: .mergeByKey("uid")),
    ])

    /// The schema of a top-level object of `resource`.
    public static func schema(for resource: FakeAPIResource) -> FakeAPIPatchSchema {
        switch resource {
        case .services:
            // ServiceSpec.ports: patchStrategy:"merge" patchMergeKey:"port"; ServiceStatus.conditions
            // by "type". clusterIPs, externalIPs, ipFamilies, loadBalancerSourceRanges and
            // status.loadBalancer.ingress carry no strategy (replaced).
            return FakeAPIPatchSchema(fields: [
                "metadata": objectMeta,
                "spec": FakeAPIPatchSchema(fields: ["ports": FakeAPIPatchSchema(list: .mergeByKey("port"))]),
                "status": FakeAPIPatchSchema(fields: ["conditions": FakeAPIPatchSchema(list: .mergeByKey("type"))]),
            ])
        case .endpointSlices, .endpoints:
            // EndpointSlice endpoints/ports are atomic lists; Endpoints subsets have no strategy.
            return FakeAPIPatchSchema(fields: ["metadata": objectMeta])
        case .nodes:
            // NodeSpec.podCIDRs: patchStrategy:"merge"; NodeStatus.addresses and conditions by "type".
            return FakeAPIPatchSchema(fields: [
                "metadata": objectMeta,
                "spec": FakeAPIPatchSchema(fields: ["podCIDRs": FakeAPIPatchSchema(list: .mergeScalars)]),
                "status": FakeAPIPatchSchema(fields: [
                    "addresses": FakeAPIPatchSchema(list: .mergeByKey("type")),
                    "conditions": FakeAPIPatchSchema(list: .mergeByKey("type")),
                ]),
            ])
        }
    }
}
