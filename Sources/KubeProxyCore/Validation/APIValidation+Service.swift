import KubeAPI

extension APIValidation {
    /// The Service types the API knows.
    public static let serviceTypes = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]

    /// Checks a Service; an empty result means `ServiceFilter` can convert it without surprises.
    ///
    /// Checked: name and namespace syntax; `type`; ports (required unless headless or
    /// ExternalName; names required when there are several, unique, DNS labels; `port`
    /// 1...65535; `nodePort` 0...65535; `targetPort` a port or an IANA service name; protocol
    /// TCP/UDP/SCTP; no port/protocol pair twice); `clusterIP`/`clusterIPs` (IPs or `None`,
    /// consistent, at most one per family); `externalIPs` (IPs, not unspecified or loopback);
    /// `loadBalancerSourceRanges` (CIDRs); `sessionAffinity` and its ClientIP timeout
    /// (1...86400); traffic policies; `healthCheckNodePort`; `ipFamilies`; load-balancer
    /// ingress IPs and `ipMode`.
    public static func validate(_ service: Service) -> [StatusCause] {
        var causes = validateMetadata(service.metadata, nameIsLabel: true)
        let path = FieldPath("spec")
        guard let spec = service.spec else {
            return causes + [.required(path)]
        }
        causes += validateEnum(spec.type, allowed: serviceTypes, at: path.child("type"))
        causes += validatePorts(of: spec, at: path)
        causes += validateClusterIPs(of: spec, at: path)
        causes += validateExternalAddresses(of: spec, at: path)
        causes += validatePolicies(of: spec, at: path)
        causes += validateStatus(service.status)
        return causes
    }

    private static func validatePorts(of spec: ServiceSpec, at path: FieldPath) -> [StatusCause] {
        let portsPath = path.child("ports")
        let ports = spec.ports ?? []
        let portsOptional = spec.type == "ExternalName" || spec.clusterIP == "None"
        if ports.isEmpty {
            return portsOptional ? [] : [.required(portsPath)]
        }
        var causes: [StatusCause] = []
        var names: Set<String> = []
        var pairs: Set<String> = []
        for (index, port) in ports.enumerated() {
            let portPath = portsPath.index(index)
            causes += validatePortName(port.name, portCount: ports.count, at: portPath.child("name"), seen: &names)
            causes += validateProtocol(port.protocol, at: portPath.child("protocol"))
            causes += validatePort(port.port, at: portPath.child("port"))
            if let nodePort = port.nodePort, !(0...65535).contains(nodePort) {
                causes.append(.invalid(portPath.child("nodePort"), value: nodePort, portOrZeroMessage))
            }
            causes += validateTargetPort(port.targetPort, at: portPath.child("targetPort"))
            if let number = port.port {
                let pair = "\(number)/\(port.protocol ?? TransportProtocol.tcp.rawValue)"
                if !pairs.insert(pair).inserted { causes.append(.duplicate(portPath, value: pair)) }
            }
        }
        return causes
    }

    private static func validateTargetPort(_ target: IntOrString?, at path: FieldPath) -> [StatusCause] {
        switch target {
        case nil:
            return []
        case .int(let number):
            return (1...65535).contains(number) ? [] : [.invalid(path, value: number, portRangeMessage)]
        case .string(let name):
            guard !isIANAServiceName(name) else { return [] }
            return [
                .invalid(
                    path, value: name,
                    "must be a port number or an IANA service name (at most 15 characters, a-z, 0-9 and '-', with a letter)")
            ]
        }
    }

    private static func validateClusterIPs(of spec: ServiceSpec, at path: FieldPath) -> [StatusCause] {
        var causes: [StatusCause] = []
        if let clusterIP = spec.clusterIP, !clusterIP.isEmpty, clusterIP != "None" {
            causes += validateIP(clusterIP, at: path.child("clusterIP"))
        }
        let clusterIPs = spec.clusterIPs ?? []
        let listPath = path.child("clusterIPs")
        if clusterIPs.count > 2 {
            causes.append(.invalid(listPath, value: clusterIPs.joined(separator: ","), "may contain at most one IP per family (2)"))
        }
        var families: Set<IPFamily> = []
        for (index, text) in clusterIPs.enumerated() {
            let itemPath = listPath.index(index)
            if text == "None" {
                if index > 0 || clusterIPs.count > 1 {
                    causes.append(.invalid(itemPath, value: text, "'None' must be the only value"))
                }
                continue
            }
            guard let ip = IPAddress(text) else {
                causes += validateIP(text, at: itemPath)
                continue
            }
            if !families.insert(ip.family).inserted {
                causes.append(.invalid(itemPath, value: text, "may not have the same family as another cluster IP"))
            }
        }
        if let first = clusterIPs.first, let clusterIP = spec.clusterIP, !clusterIP.isEmpty,
            !sameAddress(first, clusterIP)
        {
            causes.append(.invalid(listPath.index(0), value: first, "must match `spec.clusterIP`"))
        }
        return causes
    }

    /// Equal as IP addresses (so `10.0.0.01` matches `10.0.0.1`), or equal as text (`None`).
    private static func sameAddress(_ a: String, _ b: String) -> Bool {
        if let x = IPAddress(a), let y = IPAddress(b) { return x == y }
        return a == b
    }

    private static func validateExternalAddresses(of spec: ServiceSpec, at path: FieldPath) -> [StatusCause] {
        var causes: [StatusCause] = []
        for (index, text) in (spec.externalIPs ?? []).enumerated() {
            let itemPath = path.child("externalIPs").index(index)
            guard let ip = IPAddress(text) else {
                causes += validateIP(text, at: itemPath)
                continue
            }
            if ip.isUnspecified {
                causes.append(.invalid(itemPath, value: text, "may not be unspecified (0.0.0.0)"))
            } else if ip.isLoopback {
                causes.append(.invalid(itemPath, value: text, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
            }
        }
        for (index, text) in (spec.loadBalancerSourceRanges ?? []).enumerated() where CIDR(text) == nil {
            causes.append(
                .invalid(
                    path.child("loadBalancerSourceRanges").index(index), value: text,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        }
        return causes
    }

    private static func validatePolicies(of spec: ServiceSpec, at path: FieldPath) -> [StatusCause] {
        var causes: [StatusCause] = []
        let affinities = ["ClientIP", "None"]
        causes += validateEnum(spec.sessionAffinity, allowed: affinities, at: path.child("sessionAffinity"))
        if spec.sessionAffinity == "ClientIP", let timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds,
            !(1...86400).contains(timeout)
        {
            let timeoutPath = path.child("sessionAffinityConfig").child("clientIP").child("timeoutSeconds")
            causes.append(.invalid(timeoutPath, value: timeout, "must be greater than 0 and less than 86400"))
        }
        let policies = ["Cluster", "Local"]
        causes += validateEnum(spec.externalTrafficPolicy, allowed: policies, at: path.child("externalTrafficPolicy"))
        causes += validateEnum(spec.internalTrafficPolicy, allowed: policies, at: path.child("internalTrafficPolicy"))
        if let port = spec.healthCheckNodePort, !(0...65535).contains(port) {
            causes.append(.invalid(path.child("healthCheckNodePort"), value: port, portOrZeroMessage))
        }
        var families: Set<String> = []
        for (index, family) in (spec.ipFamilies ?? []).enumerated() {
            let itemPath = path.child("ipFamilies").index(index)
            if IPFamily(rawValue: family) == nil {
                causes.append(.notSupported(itemPath, value: family, supported: IPFamily.allCases.map(\.rawValue)))
            } else if !families.insert(family).inserted {
                causes.append(.duplicate(itemPath, value: family))
            }
        }
        return causes
    }

    private static func validateStatus(_ status: ServiceStatus?) -> [StatusCause] {
        var causes: [StatusCause] = []
        let path = FieldPath("status").child("loadBalancer").child("ingress")
        for (index, ingress) in (status?.loadBalancer?.ingress ?? []).enumerated() {
            if let ip = ingress.ip, !ip.isEmpty {
                causes += validateIP(ip, at: path.index(index).child("ip"))
            }
            causes += validateEnum(ingress.ipMode, allowed: ["Proxy", "VIP"], at: path.index(index).child("ipMode"))
        }
        return causes
    }
}
