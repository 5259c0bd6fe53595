import KubeAPI

/// The endpoints of every Service, merged from its EndpointSlices (and legacy Endpoints), for
/// one IP family (upstream `EndpointSliceCache`, as a value type).
///
/// Why per source: an endpoint can move from one slice of a Service to another, and slices
/// change independently, so each slice is stored on its own (keyed by namespace and slice name)
/// and a Service's endpoints are merged from all of its slices on demand.
///
/// Rules (docs/api-client-behaviour.md#endpoint-slices):
/// - A slice belongs to the Service named by its `kubernetes.io/service-name` label; slices
///   without it, or labelled `service.kubernetes.io/headless`, are ignored (a relabelled slice
///   leaves its old Service).
/// - Only slices whose `addressType` is this family; only `addresses[0]` of each endpoint, and
///   only when it is an IP of this family; endpoints without addresses are skipped.
/// - Ports with a nil name, a nil or 0 port, or an unknown protocol are skipped; protocol
///   defaults to TCP; ports are matched to Service ports by name *and* protocol.
/// - Conditions default to ready and serving, not terminating.
/// - The same `ip:port` in several slices of a Service appears once, preferring a
///   non-terminating copy (then the slice that sorts first by name).
/// - A legacy Endpoints object is one more source of its Service, keyed `endpoints:<name>`:
///   `addresses` are ready, `notReadyAddresses` neither ready nor serving.
///
/// The cache is lenient; validation (refusing a malformed object) is the tracker's job.
public struct EndpointSliceCache: Sendable {
    /// One stored slice or Endpoints object, already reduced to what the proxy uses.
    struct Source: Hashable, Sendable {
        var service: NamespacedName
        var ports: [ServicePortName: [Endpoint]]
    }

    /// The family whose addresses are kept.
    public let family: IPFamily
    private var sources: [NamespacedName: Source] = [:]
    private var sourcesByService: [NamespacedName: Set<NamespacedName>] = [:]

    /// Creates an empty cache for `family`.
    public init(family: IPFamily) {
        self.family = family
    }

    /// The key a slice is stored under: its namespace and name.
    public static func key(of slice: EndpointSlice) -> NamespacedName? {
        NamespacedName(slice.metadata)
    }

    /// The key a legacy Endpoints object is stored under: `endpoints:<name>` in its namespace
    /// (a `:` cannot occur in a slice name, so the two never collide).
    public static func key(of endpoints: Endpoints) -> NamespacedName? {
        NamespacedName(endpoints.metadata).map { NamespacedName(namespace: $0.namespace, name: "endpoints:\($0.name)") }
    }

    /// Stores (or replaces) a slice; returns the Services whose endpoints may have changed.
    @discardableResult
    public mutating func update(_ slice: EndpointSlice) -> Set<NamespacedName> {
        guard let key = Self.key(of: slice) else { return [] }
        return store(source(of: slice, namespace: key.namespace), at: key)
    }

    /// Forgets a slice; returns the Service it belonged to, if any.
    @discardableResult
    public mutating func remove(_ slice: EndpointSlice) -> Set<NamespacedName> {
        guard let key = Self.key(of: slice) else { return [] }
        return store(nil, at: key)
    }

    /// Stores (or replaces) a legacy Endpoints object; returns the affected Services.
    @discardableResult
    public mutating func update(_ endpoints: Endpoints) -> Set<NamespacedName> {
        guard let key = Self.key(of: endpoints), let service = NamespacedName(endpoints.metadata) else { return [] }
        return store(source(of: endpoints, service: service), at: key)
    }

    /// Forgets a legacy Endpoints object; returns its Service.
    @discardableResult
    public mutating func remove(_ endpoints: Endpoints) -> Set<NamespacedName> {
        guard let key = Self.key(of: endpoints) else { return [] }
        return store(nil, at: key)
    }

    /// Every Service with at least one stored source.
    public var services: Set<NamespacedName> { Set(sourcesByService.keys) }

    /// The merged endpoints of `service`, per service port name, each list sorted by address.
    ///
    /// A Service with one source (the usual case) gets that source's lists themselves, which
    /// are stored merged already: the proxy state then shares their storage with the cache
    /// instead of holding a second copy of every endpoint.
    public func endpoints(for service: NamespacedName) -> [ServicePortName: [Endpoint]] {
        guard let keys = sourcesByService[service] else { return [:] }
        if keys.count == 1, let only = keys.first { return sources[only]?.ports ?? [:] }
        var merged: [ServicePortName: [EndpointAddress: Endpoint]] = [:]
        for key in keys.sorted() {
            guard let source = sources[key] else { continue }
            for (portName, endpoints) in source.ports {
                for endpoint in endpoints {
                    if let existing = merged[portName]?[endpoint.address],
                        !(existing.terminating && !endpoint.terminating)
                    {
                        continue
                    }
                    merged[portName, default: [:]][endpoint.address] = endpoint
                }
            }
        }
        return merged.mapValues { $0.values.sorted() }
    }

    private mutating func store(_ source: Source?, at key: NamespacedName) -> Set<NamespacedName> {
        var affected: Set<NamespacedName> = []
        if let old = sources.removeValue(forKey: key) {
            affected.insert(old.service)
            sourcesByService[old.service]?.remove(key)
            if sourcesByService[old.service]?.isEmpty == true { sourcesByService[old.service] = nil }
        }
        if var source {
            affected.insert(source.service)
            source.ports = source.ports.compactMapValues { $0.isEmpty ? nil : Self.merged($0) }
            sources[key] = source
            sourcesByService[source.service, default: []].insert(key)
        }
        return affected
    }

    /// `endpoints` as the merge of one source yields them: one entry per `ip:port` (a
    /// non-terminating copy preferred, else the first), sorted by address. Already sorted
    /// unique lists (the usual case) are returned as they are.
    static func merged(_ endpoints: [Endpoint]) -> [Endpoint] {
        if zip(endpoints, endpoints.dropFirst()).allSatisfy({ $0.address < $1.address }) { return endpoints }
        var index: [EndpointAddress: Int] = [:]
        var unique: [Endpoint] = []
        unique.reserveCapacity(endpoints.count)
        for endpoint in endpoints {
            if let at = index[endpoint.address] {
                if unique[at].terminating && !endpoint.terminating { unique[at] = endpoint }
            } else {
                index[endpoint.address] = unique.count
                unique.append(endpoint)
            }
        }
        return unique.sorted()
    }

    private func source(of slice: EndpointSlice, namespace: String) -> Source? {
        let labels = slice.metadata.labels ?? [:]
        guard let serviceName = labels[WellKnownLabels.serviceName], !serviceName.isEmpty,
            labels[WellKnownLabels.headless] == nil, slice.addressType == family.rawValue
        else { return nil }
        let service = NamespacedName(namespace: namespace, name: serviceName)
        let endpoints: [(IPAddress, EndpointSliceEndpoint)] = (slice.endpoints ?? []).compactMap { endpoint in
            guard let first = endpoint.addresses?.first, let ip = IPAddress(first), ip.family == family else { return nil }
            return (ip, endpoint)
        }
        var ports: [ServicePortName: [Endpoint]] = [:]
        for port in slice.ports ?? [] {
            guard let name = port.name, let number = port.port, number > 0,
                let proto = TransportProtocol(rawValue: port.protocol ?? TransportProtocol.tcp.rawValue)
            else { continue }
            ports[ServicePortName(service: service, port: name, protocol: proto)] = endpoints.map { ip, endpoint in
                let conditions = endpoint.conditions
                return Endpoint(
                    ip: ip, port: number,
                    ready: conditions?.ready ?? true,
                    serving: conditions?.serving ?? true,
                    terminating: conditions?.terminating ?? false,
                    nodeName: endpoint.nodeName, zone: endpoint.zone,
                    zoneHints: Set((endpoint.hints?.forZones ?? []).compactMap(\.name)),
                    nodeHints: Set((endpoint.hints?.forNodes ?? []).compactMap(\.name)))
            }
        }
        return Source(service: service, ports: ports)
    }

    private func source(of object: Endpoints, service: NamespacedName) -> Source {
        var ports: [ServicePortName: [Endpoint]] = [:]
        for subset in object.subsets ?? [] {
            let ready = (subset.addresses ?? []).compactMap { address($0, ready: true) }
            let notReady = (subset.notReadyAddresses ?? []).compactMap { address($0, ready: false) }
            for port in subset.ports ?? [] {
                guard let number = port.port, number > 0,
                    let proto = TransportProtocol(rawValue: port.protocol ?? TransportProtocol.tcp.rawValue)
                else { continue }
                let name = ServicePortName(service: service, port: port.name ?? "", protocol: proto)
                ports[name, default: []] += (ready + notReady).map { ip, isReady, node in
                    Endpoint(ip: ip, port: number, ready: isReady, serving: isReady, terminating: false, nodeName: node)
                }
            }
        }
        return Source(service: service, ports: ports)
    }

    private func address(_ address: EndpointSubsetAddress, ready: Bool) -> (IPAddress, Bool, String?)? {
        guard let text = address.ip, let ip = IPAddress(text), ip.family == family else { return nil }
        return (ip, ready, address.nodeName)
    }
}
