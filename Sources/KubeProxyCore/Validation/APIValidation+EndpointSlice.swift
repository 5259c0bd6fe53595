import KubeAPI

extension APIValidation {
    /// The address types an EndpointSlice may declare.
    public static let endpointSliceAddressTypes = ["FQDN", "IPv4", "IPv6"]

    /// Checks an EndpointSlice; an empty result means the `EndpointSliceCache` may store it.
    ///
    /// Checked: name and namespace syntax; `addressType`; every endpoint has at least one
    /// address and (for IPv4/IPv6 slices) every address is an IP of that family; port names are
    /// empty or DNS labels and unique; `port` is absent or 1...65535; protocol TCP/UDP/SCTP.
    /// Paths are relative to the object (`endpoints[2].addresses[0]`, `ports[0].port`), as the
    /// API server reports them for slices.
    public static func validate(_ slice: EndpointSlice) -> [StatusCause] {
        var causes = validateMetadata(slice.metadata, nameIsLabel: false)
        let family: IPFamily?
        switch slice.addressType {
        case nil, "":
            causes.append(.required(FieldPath("addressType")))
            family = nil
        case let type?:
            causes += validateEnum(type, allowed: endpointSliceAddressTypes, at: FieldPath("addressType"))
            family = IPFamily(rawValue: type)
        }
        for (index, endpoint) in (slice.endpoints ?? []).enumerated() {
            // Paths are built only for a failure: this loop runs for every endpoint of every slice.
            func path() -> FieldPath { FieldPath("endpoints").index(index).child("addresses") }
            let addresses = endpoint.addresses ?? []
            if addresses.isEmpty { causes.append(.required(path(), "must contain at least 1 address")) }
            guard let family else { continue }
            for (addressIndex, address) in addresses.enumerated() {
                let problems = validateIP(address, family: family, at: path().index(addressIndex))
                if !problems.isEmpty { causes += problems }
            }
        }
        var names: Set<String> = []
        for (index, port) in (slice.ports ?? []).enumerated() {
            let path = FieldPath("ports").index(index)
            if let name = port.name, !name.isEmpty {
                if !isDNS1123Label(name) {
                    causes.append(.invalid(path.child("name"), value: name, dns1123LabelMessage))
                } else if !names.insert(name).inserted {
                    causes.append(.duplicate(path.child("name"), value: name))
                }
            } else if port.name != nil, !names.insert("").inserted {
                causes.append(.duplicate(path.child("name"), value: ""))
            }
            causes += validateProtocol(port.protocol, at: path.child("protocol"))
            if let number = port.port, !(1...65535).contains(number) {
                causes.append(.invalid(path.child("port"), value: number, portRangeMessage))
            }
        }
        return causes
    }
}
