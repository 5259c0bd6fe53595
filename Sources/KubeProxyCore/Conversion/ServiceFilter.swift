import KubeAPI

/// Translates a `KubeAPI.Service` into `ServicePort`s for one IP family (upstream's
/// `ShouldSkipService` + `newBaseServiceInfo`).
///
/// Rules, in order:
/// 1. Skip Services labelled `service.kubernetes.io/service-proxy-name` or
///    `service.kubernetes.io/headless` (upstream filters them in the informer; manifest files
///    have no such filter, so we repeat it here), `type: ExternalName`, and `clusterIP` empty or
///    `None`.
/// 2. Refuse a Service that fails `APIValidation.validate(_:)` (`.invalid`).
/// 3. Pick the cluster IP of the family from `clusterIPs` (or `clusterIP`); skip when there is
///    none (the other family's proxier serves it).
/// 4. Per port: protocol defaults to TCP; `nodePort` 0 when absent. Shared by every port:
///    `externalIPs`, load-balancer ingress IPs and `loadBalancerSourceRanges` filtered to the
///    family (ingress with `ipMode: Proxy` or only a hostname is not programmed);
///    `sessionAffinity: ClientIP` with `timeoutSeconds` (default 10800); traffic policies
///    (Cluster when unset). `externalTrafficPolicy` is stored as the *effective* policy: Local
///    only for a port that is externally accessible (node port, external or load-balancer IPs),
///    upstream's `ExternalPolicyLocal()`, so backends can read the field directly.
///    `healthCheckNodePort` only for LoadBalancer + external Local, as upstream serves it only
///    then.
public enum ServiceFilter {
    /// Converts `service` for a proxier of `family`.
    public static func servicePorts(from service: Service, family: IPFamily) -> ServiceConversion {
        if let reason = skipReason(for: service) { return .skipped(reason) }
        let causes = APIValidation.validate(service)
        guard causes.isEmpty, let spec = service.spec, let key = NamespacedName(service.metadata) else {
            return .invalid(causes.isEmpty ? [.required(FieldPath("metadata").child("name"))] : causes)
        }
        guard let clusterIP = clusterIP(of: spec, family: family) else {
            return .skipped(.noClusterIPOfFamily(family))
        }
        let template = ServicePort(
            name: ServicePortName(service: key, port: "", protocol: .tcp),
            clusterIP: clusterIP,
            port: 0,
            externalIPs: (spec.externalIPs ?? []).compactMap { IPAddress($0) }.filter { $0.family == family },
            loadBalancerIPs: loadBalancerIPs(of: service.status, family: family),
            loadBalancerSourceRanges: (spec.loadBalancerSourceRanges ?? []).compactMap { CIDR($0) }
                .filter { $0.address.family == family },
            sessionAffinity: sessionAffinity(of: spec),
            externalTrafficPolicy: TrafficPolicy(rawValue: spec.externalTrafficPolicy ?? "") ?? .cluster,
            internalTrafficPolicy: TrafficPolicy(rawValue: spec.internalTrafficPolicy ?? "") ?? .cluster,
            healthCheckNodePort: spec.type == "LoadBalancer" && spec.externalTrafficPolicy == "Local"
                ? spec.healthCheckNodePort ?? 0 : 0
        )
        let ports = (spec.ports ?? []).map { port in
            var servicePort = template
            servicePort.name = ServicePortName(
                service: key, port: port.name ?? "",
                protocol: TransportProtocol(rawValue: port.protocol ?? "") ?? .tcp)
            servicePort.port = port.port ?? 0
            servicePort.nodePort = port.nodePort ?? 0
            if !servicePort.isExternallyAccessible { servicePort.externalTrafficPolicy = .cluster }
            return servicePort
        }
        return .ports(ports)
    }

    /// Why the Service is not proxied at all, before looking at its family; `nil` to proxy it.
    public static func skipReason(for service: Service) -> ServiceConversion.SkipReason? {
        let labels = service.metadata.labels ?? [:]
        for label in [WellKnownLabels.serviceProxyName, WellKnownLabels.headless] where labels[label] != nil {
            return .excludedByLabel(label)
        }
        if service.spec?.type == "ExternalName" { return .externalName }
        switch service.spec?.clusterIP {
        case nil, "": return .noClusterIP
        case "None": return .headless
        default: return nil
        }
    }

    /// The cluster IP of `family`: from `clusterIPs` when present (dual-stack), else `clusterIP`.
    static func clusterIP(of spec: ServiceSpec, family: IPFamily) -> IPAddress? {
        let candidates = (spec.clusterIPs ?? []).isEmpty ? [spec.clusterIP ?? ""] : spec.clusterIPs ?? []
        return candidates.lazy.compactMap { IPAddress($0) }.first { $0.family == family }
    }

    static func loadBalancerIPs(of status: ServiceStatus?, family: IPFamily) -> [IPAddress] {
        (status?.loadBalancer?.ingress ?? []).compactMap { ingress in
            guard ingress.ipMode != "Proxy", let text = ingress.ip, let ip = IPAddress(text), ip.family == family
            else { return nil }
            return ip
        }
    }

    static func sessionAffinity(of spec: ServiceSpec) -> SessionAffinity {
        guard spec.sessionAffinity == "ClientIP" else { return .none }
        let timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? SessionAffinity.defaultClientIPTimeoutSeconds
        return .clientIP(timeoutSeconds: timeout)
    }
}
