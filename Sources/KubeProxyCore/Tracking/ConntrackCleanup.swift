/// Which UDP conntrack entries to delete after a sync, so that datagrams stop following a
/// translation to an endpoint that no longer serves.
///
/// Why: a UDP "connection" lives in conntrack for as long as datagrams keep coming, and every
/// datagram follows the DNAT chosen for the first one. When the endpoint goes away the client
/// would keep sending into the void; when a service gains its first endpoint, the entry created
/// while it had none (rejected) would keep the flow from ever being translated. TCP needs none
/// of this: a dead endpoint resets or times out the connection and the client reconnects.
///
/// Guarantees (the rules upstream applies, expressed as delete filters a tool can run):
/// - a UDP service port with at least one serving endpoint: for every endpoint that served
///   before this sync and does not now, flows to each of the port's frontends (cluster IP,
///   external IPs, LoadBalancer IPs at the service port; any address at the NodePort) whose
///   reply comes from that endpoint are deleted;
/// - a UDP service port that had no serving endpoint before and has one now: every flow to its
///   frontends is deleted (the entries that recorded the rejection);
/// - a removed UDP service port: every flow to its frontends is deleted.
/// Services without endpoints are left alone (nothing better to send the flows to).
public enum ConntrackCleanup {
    /// One conntrack delete: UDP flows matching every non-nil field.
    public struct Filter: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// The flows' family.
        public var family: IPFamily
        /// Original destination address; `nil` for a NodePort (any local address).
        public var destination: IPAddress?
        /// Original destination port.
        public var destinationPort: Int
        /// Reply source (the endpoint the flow was translated to); `nil` for every flow.
        public var replySource: IPAddress?

        /// Creates a filter.
        public init(family: IPFamily, destination: IPAddress?, destinationPort: Int, replySource: IPAddress?) {
            self.family = family
            self.destination = destination
            self.destinationPort = destinationPort
            self.replySource = replySource
        }

        public static func < (lhs: Filter, rhs: Filter) -> Bool {
            (lhs.destination?.description ?? "", lhs.destinationPort, lhs.replySource?.description ?? "")
                < (rhs.destination?.description ?? "", rhs.destinationPort, rhs.replySource?.description ?? "")
        }

        public var description: String {
            "udp \(destination?.description ?? "*"):\(destinationPort)"
                + (replySource.map { " reply from \($0)" } ?? "")
        }
    }

    /// The deletes for the step from `previous` to `current`, sorted and without duplicates.
    /// Only service ports named in `delta` are examined, so an idle sync costs nothing.
    public static func filters(previous: ProxySnapshot, current: ProxySnapshot, delta: SyncDelta) -> [Filter] {
        var filters: Set<Filter> = []
        for (_, port) in delta.removedServicePorts where port.protocol == .udp {
            filters.formUnion(frontends(port, family: current.family, replySource: nil))
        }
        var touched = delta.endpointsChanged
        touched.formUnion(delta.addedServicePorts)
        touched.formUnion(delta.changedServicePorts)
        for name in touched where name.protocol == .udp {
            guard let port = current.servicePorts[name] else { continue }
            let serving = Set(current.endpoints(for: name).filter(\.serving).map(\.ip))
            guard !serving.isEmpty else { continue }
            let servedBefore = Set(previous.endpoints(for: name).filter(\.serving).map(\.ip))
            if servedBefore.isEmpty {
                filters.formUnion(frontends(port, family: current.family, replySource: nil))
                continue
            }
            for stale in servedBefore.subtracting(serving) {
                filters.formUnion(frontends(port, family: current.family, replySource: stale))
            }
        }
        return filters.sorted()
    }

    private static func frontends(_ port: ServicePort, family: IPFamily, replySource: IPAddress?) -> [Filter] {
        var result = ([port.clusterIP] + port.externalIPs + port.loadBalancerIPs).map {
            Filter(family: family, destination: $0, destinationPort: port.port, replySource: replySource)
        }
        if port.nodePort != 0 {
            result.append(Filter(family: family, destination: nil, destinationPort: port.nodePort, replySource: replySource))
        }
        return result
    }
}
