import KubeProxyHost
import Testing

struct DefaultRoutesTests {
    static let ipv4Table = """
        Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
        eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
        eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
        wg0\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0
        """

    static let ipv6Table = """
        fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
        00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
        """

    @Test func ipv4DefaultRoutesByMetricSkippingDownRoutes() {
        #expect(DefaultRoutes.ipv4Interfaces(routeTable: Self.ipv4Table) == ["eth0", "eth1"])
    }

    @Test func ipv6DefaultRouteSkipsTheRejectRouteOnLoopback() {
        #expect(DefaultRoutes.ipv6Interfaces(routeTable: Self.ipv6Table) == ["eth0"])
    }

    @Test func noDefaultRouteGivesNoInterfaces() {
        #expect(DefaultRoutes.ipv4Interfaces(routeTable: "Iface\tDestination\n") == [])
        #expect(DefaultRoutes.ipv6Interfaces(routeTable: "") == [])
    }
}
