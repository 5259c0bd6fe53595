import KubeAPI

extension APIValidation {
    /// Checks a legacy Endpoints object; an empty result means the `EndpointSliceCache` may
    /// store it.
    ///
    /// Checked: name and namespace syntax; every ready and not-ready address has a valid `ip`;
    /// every port has a number in 1...65535 and a TCP/UDP/SCTP protocol; names are required when
    /// a subset has several ports, are DNS labels, and are unique within the subset. Paths look
    /// like `subsets[0].addresses[1].ip`.
    public static func validate(_ endpoints: Endpoints) -> [StatusCause] {
        var causes = validateMetadata(endpoints.metadata, nameIsLabel: false)
        for (index, subset) in (endpoints.subsets ?? []).enumerated() {
            let path = FieldPath("subsets").index(index)
            causes += validateAddresses(subset.addresses, at: path.child("addresses"))
            causes += validateAddresses(subset.notReadyAddresses, at: path.child("notReadyAddresses"))
            let ports = subset.ports ?? []
            var names: Set<String> = []
            for (portIndex, port) in ports.enumerated() {
                let portPath = path.child("ports").index(portIndex)
                causes += validatePortName(port.name, portCount: ports.count, at: portPath.child("name"), seen: &names)
                causes += validatePort(port.port, at: portPath.child("port"))
                causes += validateProtocol(port.protocol, at: portPath.child("protocol"))
            }
        }
        return causes
    }

    private static func validateAddresses(_ addresses: [EndpointSubsetAddress]?, at path: FieldPath) -> [StatusCause] {
        var causes: [StatusCause] = []
        for (index, address) in (addresses ?? []).enumerated() {
            let ipPath = path.index(index).child("ip")
            guard let ip = address.ip, !ip.isEmpty else {
                causes.append(.required(ipPath))
                continue
            }
            causes += validateIP(ip, at: ipPath)
        }
        return causes
    }
}
