import Foundation
import KubeProxyCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The node's own addresses, read from the kernel.
///
/// `current()` is refreshed every sync (portal IPs that are local get their port claimed,
/// docs/userspace-behaviour.md#port-claims); `primaryAddress(family:)` is read once at start for `HIP`.
public enum LocalAddresses {
    /// Every IPv4/IPv6 address on every interface (loopback included, up or not).
    public static func current() throws(HostError) -> Set<IPAddress> {
        Set(try interfaceAddresses().map(\.address))
    }

    /// Every address with its interface, in the kernel's order (`getifaddrs`).
    public static func interfaceAddresses() throws(HostError) -> [InterfaceAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { throw HostError(.systemCall(errno: errno), command: ["getifaddrs"]) }
        defer { freeifaddrs(head) }
        var result: [InterfaceAddress] = []
        var cursor = head
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sockaddr = entry.pointee.ifa_addr, let address = Self.address(sockaddr) else { continue }
            let name = String(cString: entry.pointee.ifa_name)
            let isUp = entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
            result.append(InterfaceAddress(interface: name, address: address, isUp: isUp))
        }
        return result
    }

    /// The node's primary address of `family`: the first global-unicast address of the first
    /// up interface carrying a default route. Throws `.noDefaultRoute` when there is none.
    public static func primaryAddress(family: IPFamily) throws(HostError) -> IPAddress {
        let path = DefaultRoutes.routeTablePath(family)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HostError(.unreadableFile, command: [path])
        }
        let table = String(decoding: data, as: UTF8.self)
        let chosen = primaryAddress(family: family, routeTable: table, addresses: try interfaceAddresses())
        guard let chosen else { throw HostError(.noDefaultRoute(family), command: [path]) }
        return chosen
    }

    /// The choice behind `primaryAddress(family:)` on given inputs (pure, for tests).
    public static func primaryAddress(family: IPFamily, routeTable: String, addresses: [InterfaceAddress]) -> IPAddress? {
        let interfaces =
            family == .ipv4
            ? DefaultRoutes.ipv4Interfaces(routeTable: routeTable) : DefaultRoutes.ipv6Interfaces(routeTable: routeTable)
        for interface in interfaces {
            let candidate = addresses.first {
                $0.interface == interface && $0.isUp && $0.address.family == family && $0.isGlobalUnicast
            }
            if let candidate { return candidate.address }
        }
        return nil
    }

    /// Converts a `sockaddr` of family AF_INET/AF_INET6 to an address.
    static func address(_ pointer: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                IPAddress.v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                let bytes = withUnsafeBytes(of: sin6.pointee.sin6_addr) { Array($0) }
                let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return IPAddress.v6(high, low)
            }
        default:
            return nil
        }
    }
}
