import KubeProxyCore
import KubeProxyHost
import Testing

struct LocalAddressesTests {
    static let addresses = [
        InterfaceAddress(interface: "lo", address: ip("127.0.0.1")),
        InterfaceAddress(interface: "eth0", address: ip("169.254.3.3")),
        InterfaceAddress(interface: "eth0", address: ip("fe80::1")),
        InterfaceAddress(interface: "eth0", address: ip("192.0.2.2")),
        InterfaceAddress(interface: "eth0", address: ip("fd00::2")),
        InterfaceAddress(interface: "eth1", address: ip("192.168.1.9"), isUp: false),
    ]

    @Test func primaryAddressIsTheFirstGlobalAddressOnTheDefaultRouteInterface() {
        #expect(
            LocalAddresses.primaryAddress(family: .ipv4, routeTable: DefaultRoutesTests.ipv4Table, addresses: Self.addresses)
                == ip("192.0.2.2"))
        #expect(
            LocalAddresses.primaryAddress(family: .ipv6, routeTable: DefaultRoutesTests.ipv6Table, addresses: Self.addresses)
                == ip("fd00::2"))
    }

    @Test func noCandidateGivesNil() {
        let onlyDown = [InterfaceAddress(interface: "eth0", address: ip("192.0.2.2"), isUp: false)]
        #expect(LocalAddresses.primaryAddress(family: .ipv4, routeTable: DefaultRoutesTests.ipv4Table, addresses: onlyDown) == nil)
        #expect(LocalAddresses.primaryAddress(family: .ipv4, routeTable: "", addresses: Self.addresses) == nil)
    }

    @Test(arguments: [
        ("10.0.0.1", true), ("192.0.2.2", true), ("127.0.0.1", false), ("0.0.0.0", false), ("169.254.1.1", false),
        ("224.0.0.1", false), ("255.255.255.255", false), ("fd00::2", true), ("2001:db8::1", true), ("::1", false),
        ("fe80::1", false), ("ff02::1", false), ("::", false),
    ])
    func globalUnicastClassification(_ text: String, _ expected: Bool) {
        #expect(InterfaceAddress(interface: "x", address: ip(text)).isGlobalUnicast == expected)
    }

    @Test func currentAddressesIncludeLoopback() throws {
        // Every network namespace, including a CI container's, has `lo` with 127.0.0.1.
        let addresses = try LocalAddresses.current()
        #expect(addresses.contains(ip("127.0.0.1")))
    }
}
