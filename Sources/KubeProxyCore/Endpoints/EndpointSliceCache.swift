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
    ///
    /// Its ports are a list, not a dictionary: a slice has a handful of ports (usually one), and
    /// at 10k slices a dictionary per slice cost about twice the memory of the list.
    struct Source: Hashable, Sendable {
        /// The Service the source belongs to (its `kubernetes.io/service-name` label).
        var service: NamespacedName
        /// One entry per service port name, sorted by name.
        var ports: [PortEndpoints]
    }

    /// The endpoints of one service port in one source.
    struct PortEndpoints: Hashable, Sendable {
        /// The service port, matched by name and protocol.
        var name: ServicePortName
        /// Its endpoints, merged (one per `ip:port`) and sorted by address.
        var endpoints: [Endpoint]
    }

    /// The family whose addresses are kept.
    public let family: IPFamily
    private var sources: [NamespacedName: Source] = [:]
    /// The source keys of each Service, in no particular order: a list rather than a set, for
    /// the same reason as `Source.ports` (a Service has a handful of slices, usually one).
    private var sourcesByService: [NamespacedName: [NamespacedName]] = [:]

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

    /// Whether a source is stored under `key`.
    func holds(_ key: NamespacedName) -> Bool {
        sources[key] != nil
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
        if keys.count == 1, let only = keys.first {
            guard let ports = sources[only]?.ports else { return [:] }
            var lists: [ServicePortName: [Endpoint]] = [:]
            lists.reserveCapacity(ports.count)
            for port in ports { lists[port.name] = port.endpoints }
            return lists
        }
        var merged: [ServicePortName: [EndpointAddress: Endpoint]] = [:]
        for key in keys.sorted() {
            guard let source = sources[key] else { continue }
            for port in source.ports {
                let portName = port.name
                for endpoint in port.endpoints {
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
            sourcesByService[old.service]?.removeAll { $0 == key }
            if sourcesByService[old.service]?.isEmpty == true { sourcesByService[old.service] = nil }
        }
        if var source {
            affected.insert(source.service)
            source.ports = Self.stored(source.ports)
            sources[key] = source
            sourcesByService[source.service, default: []].append(key)
        }
        return affected
    }

    /// A source's port lists (one per name) as stored: empty ones dropped, each merged, sorted
    /// by name so equal sources compare equal.
    static func stored(_ ports: [PortEndpoints]) -> [PortEndpoints] {
        var result = ports.filter { !$0.endpoints.isEmpty }
        for index in result.indices { result[index].endpoints = merged(result[index].endpoints) }
        return result.sorted { $0.name < $1.name }
    }

    /// `lists` as stored port lists, in the order of `names` (each name once).
    private static func portList(_ lists: [ServicePortName: [Endpoint]], names: [ServicePortName]) -> [PortEndpoints] {
        var ports: [PortEndpoints] = []
        ports.reserveCapacity(names.count)
        for name in names { if let endpoints = lists[name] { ports.append(PortEndpoints(name: name, endpoints: endpoints)) } }
        return ports
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
        // Each endpoint once, with the port filled in per port below; endpoints on one node
        // (and all ports of the slice) share one locality box.
        var localities = Endpoint.LocalityInterner()
        let endpoints: [Endpoint] = (slice.endpoints ?? []).compactMap { endpoint in
            guard let first = endpoint.addresses?.first, let ip = IPAddress(first), ip.family == family else { return nil }
            let conditions = endpoint.conditions
            return Endpoint(
                ip: ip, port: 0,
                ready: conditions?.ready ?? true,
                serving: conditions?.serving ?? true,
                terminating: conditions?.terminating ?? false,
                locality: localities.box(
                    nodeName: endpoint.nodeName, zone: endpoint.zone,
                    zoneHints: Set((endpoint.hints?.forZones ?? []).compactMap(\.name)),
                    nodeHints: Set((endpoint.hints?.forNodes ?? []).compactMap(\.name))))
        }
        // A repeated port name replaces the earlier one (last wins).
        var lists: [ServicePortName: [Endpoint]] = [:]
        var names: [ServicePortName] = []
        for port in slice.ports ?? [] {
            guard let name = port.name, let number = port.port, number > 0,
                let proto = TransportProtocol(rawValue: port.protocol ?? TransportProtocol.tcp.rawValue)
            else { continue }
            let key = ServicePortName(service: service, port: name, protocol: proto)
            if lists[key] == nil { names.append(key) }
            lists[key] = endpoints.map { endpoint in
                var endpoint = endpoint
                endpoint.port = number
                return endpoint
            }
        }
        return Source(service: service, ports: Self.portList(lists, names: names))
    }

    private func source(of object: Endpoints, service: NamespacedName) -> Source {
        // A repeated port name (in one subset or several) collects all of its endpoints.
        var ports: [ServicePortName: [Endpoint]] = [:]
        var names: [ServicePortName] = []
        var localities = Endpoint.LocalityInterner()
        for subset in object.subsets ?? [] {
            let ready = (subset.addresses ?? []).compactMap { address($0, ready: true) }
            let notReady = (subset.notReadyAddresses ?? []).compactMap { address($0, ready: false) }
            let endpoints = (ready + notReady).map { ip, isReady, node in
                Endpoint(
                    ip: ip, port: 0, ready: isReady, serving: isReady, terminating: false,
                    locality: localities.box(nodeName: node, zone: nil, zoneHints: [], nodeHints: []))
            }
            for port in subset.ports ?? [] {
                guard let number = port.port, number > 0,
                    let proto = TransportProtocol(rawValue: port.protocol ?? TransportProtocol.tcp.rawValue)
                else { continue }
                let name = ServicePortName(service: service, port: port.name ?? "", protocol: proto)
                if ports[name] == nil { names.append(name) }
                ports[name, default: []] += endpoints.map { endpoint in
                    var endpoint = endpoint
                    endpoint.port = number
                    return endpoint
                }
            }
        }
        return Source(service: service, ports: Self.portList(ports, names: names))
    }

    private func address(_ address: EndpointSubsetAddress, ready: Bool) -> (IPAddress, Bool, String?)? {
        guard let text = address.ip, let ip = IPAddress(text), ip.family == family else { return nil }
        return (ip, ready, address.nodeName)
    }
}
