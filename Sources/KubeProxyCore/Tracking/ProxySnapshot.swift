/// The desired proxy state at one sync: every service port and its endpoints, for one family.
///
/// Why a separate immutable value: renderers and the data plane run after (and concurrently
/// with) the next events; handing them a `Sendable` value that nothing can mutate means a
/// renderer never sees a half-applied change, and a render is a pure function of it. Copying is
/// O(1) (copy-on-write dictionaries).
///
/// Endpoints are keyed by service port name independently of Services: a slice may arrive
/// before its Service, and a port's endpoints are simply unused until the port exists.
public struct ProxySnapshot: Sendable, Hashable {
    /// The family every address in the snapshot belongs to.
    public let family: IPFamily
    /// Every proxied service port.
    public let servicePorts: [ServicePortName: ServicePort]
    /// Merged endpoints per service port name, each list sorted by address.
    public let endpoints: [ServicePortName: [Endpoint]]

    /// Creates a snapshot; tests of renderers build them directly.
    public init(
        family: IPFamily, servicePorts: [ServicePortName: ServicePort] = [:],
        endpoints: [ServicePortName: [Endpoint]] = [:]
    ) {
        self.family = family
        self.servicePorts = servicePorts
        self.endpoints = endpoints
    }

    /// Service ports sorted by name: the deterministic order renderers iterate in.
    public var sortedServicePorts: [ServicePort] {
        servicePorts.keys.sorted().compactMap { servicePorts[$0] }
    }

    /// The endpoints of one service port (empty when it has none).
    public func endpoints(for name: ServicePortName) -> [Endpoint] {
        endpoints[name] ?? []
    }
}
