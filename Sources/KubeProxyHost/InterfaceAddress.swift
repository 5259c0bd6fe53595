import KubeProxyCore

/// One address configured on one network interface.
public struct InterfaceAddress: Hashable, Sendable {
    /// Interface name (`eth0`).
    public var interface: String
    /// The address.
    public var address: IPAddress
    /// Whether the interface is administratively up.
    public var isUp: Bool

    /// Creates a record.
    public init(interface: String, address: IPAddress, isUp: Bool = true) {
        self.interface = interface
        self.address = address
        self.isUp = isUp
    }

    /// Usable as a node address: not unspecified, loopback, link-local or multicast (Go's
    /// `IsGlobalUnicast`, private ranges included).
    public var isGlobalUnicast: Bool {
        if address.isUnspecified || address.isLoopback { return false }
        let bytes = address.bytes
        switch address.family {
        case .ipv4:
            return !(bytes[0] == 169 && bytes[1] == 254) && bytes[0] < 224 && address != .v4(.max)
        case .ipv6:
            return bytes[0] != 0xff && !(bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80)
        }
    }
}
