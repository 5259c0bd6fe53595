import KubeProxyCore

/// The interfaces carrying a default route, read from the kernel's route tables.
///
/// Pure parsing of `/proc/net/route` and `/proc/net/ipv6_route` text, kept apart from the file
/// reads so it is tested on sample tables. Used to pick the node's primary address (`HIP`,
/// docs/userspace-behaviour.md#host-address), the way upstream's `ChooseHostInterface` does.
public enum DefaultRoutes {
    /// Route flag: the route is up.
    static let routeUp: UInt32 = 0x0001
    /// Route flag: a reject (unreachable) route, e.g. the IPv6 default on `lo`.
    static let routeReject: UInt32 = 0x0200

    /// Interfaces with an IPv4 default route (destination and mask 0, up), lowest metric first.
    public static func ipv4Interfaces(routeTable text: String) -> [String] {
        var routes: [(interface: String, metric: UInt32, order: Int)] = []
        for (order, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // Iface Destination Gateway Flags RefCnt Use Metric Mask …
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                let flags = UInt32(fields[3], radix: 16), flags & routeUp != 0,
                let metric = UInt32(fields[6])
            else { continue }
            routes.append((String(fields[0]), metric, order))
        }
        return routes.sorted { ($0.metric, $0.order) < ($1.metric, $1.order) }.map(\.interface)
    }

    /// Interfaces with an IPv6 default route (`::/0`, up, not a reject route, not `lo`),
    /// lowest metric first.
    public static func ipv6Interfaces(routeTable text: String) -> [String] {
        var routes: [(interface: String, metric: UInt32, order: Int)] = []
        for (order, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // dest destLen src srcLen nextHop metric refCnt use flags iface
            guard fields.count >= 10, fields[0].allSatisfy({ $0 == "0" }), fields[1] == "00",
                let metric = UInt32(fields[5], radix: 16), let flags = UInt32(fields[8], radix: 16),
                flags & routeUp != 0, flags & routeReject == 0, fields[9] != "lo"
            else { continue }
            routes.append((String(fields[9]), metric, order))
        }
        return routes.sorted { ($0.metric, $0.order) < ($1.metric, $1.order) }.map(\.interface)
    }

    /// The route-table file of `family`.
    public static func routeTablePath(_ family: IPFamily) -> String {
        family == .ipv4 ? "/proc/net/route" : "/proc/net/ipv6_route"
    }
}
