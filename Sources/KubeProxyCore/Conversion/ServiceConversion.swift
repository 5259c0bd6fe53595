import KubeAPI

/// The outcome of turning one `KubeAPI.Service` into the proxy's `ServicePort`s.
///
/// Three outcomes, because callers must treat them differently: a skipped Service is correctly
/// *not proxied* (its ports are removed), an invalid one is *refused* (its last good ports stay
/// and the causes are reported), and a converted one replaces its ports.
public enum ServiceConversion: Hashable, Sendable {
    /// The Service is not for this proxier; it has no service ports.
    case skipped(SkipReason)
    /// The Service's ports, in spec order, already validated.
    case ports([ServicePort])
    /// The Service failed validation; nothing about it may be programmed from this version.
    case invalid([StatusCause])

    /// Why a valid Service is not proxied.
    public enum SkipReason: Hashable, Sendable, CustomStringConvertible {
        /// `spec.clusterIP` is empty or absent: no virtual IP to proxy.
        case noClusterIP
        /// `spec.clusterIP: None`: a headless Service, resolved by DNS only.
        case headless
        /// `spec.type: ExternalName`: a DNS alias, even if it has a cluster IP.
        case externalName
        /// The Service carries this label (`service-proxy-name` or `headless`); another proxy or
        /// no proxy owns it, as the upstream informer label selector decides.
        case excludedByLabel(String)
        /// Dual-stack peer: no cluster IP of this proxier's family.
        case noClusterIPOfFamily(IPFamily)

        /// A short phrase for logs.
        public var description: String {
            switch self {
            case .noClusterIP: "no cluster IP"
            case .headless: "headless Service (clusterIP None)"
            case .externalName: "type ExternalName"
            case .excludedByLabel(let label): "label \(label) present"
            case .noClusterIPOfFamily(let family): "no \(family) cluster IP"
            }
        }
    }

    /// The converted ports, or `nil` when skipped or invalid.
    public var servicePorts: [ServicePort]? {
        if case .ports(let ports) = self { return ports }
        return nil
    }
}
