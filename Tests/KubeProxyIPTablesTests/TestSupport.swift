import KubeProxyCore
import KubeProxyIPTables

/// Parses an address literal (tests only).
func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

/// A service port with the given addresses; the name is `ns/name:port`.
func servicePort(
    _ name: String, namespace: String = "ns", portName: String = "http", protocol: TransportProtocol = .tcp,
    clusterIP: String, port: Int, nodePort: Int = 0, externalIPs: [String] = [], loadBalancerIPs: [String] = []
) -> ServicePort {
    ServicePort(
        name: ServicePortName(namespace: namespace, name: name, port: portName, protocol: `protocol`),
        clusterIP: ip(clusterIP), port: port, nodePort: nodePort,
        externalIPs: externalIPs.map(ip), loadBalancerIPs: loadBalancerIPs.map(ip))
}

/// The `-A CHAIN …` lines of `chain` in `ruleSet`, for golden comparisons with the spec's text.
func lines(_ ruleSet: IPTablesRuleSet, _ chain: PortalChain) -> [String] {
    ruleSet.rules(in: chain.rawValue, table: chain.table).map(\.description)
}

/// Parses iptables-save text or fails the test.
func parseSave(_ text: String) throws -> IPTablesRuleSet {
    try IPTablesRuleSet(parsingSave: text)
}

/// A renderer for the common IPv4 case: listening on 0.0.0.0, node address 192.168.1.5.
let wildcardRenderer = UserspacePortalRenderer(listenIP: ip("0.0.0.0"), hostIP: ip("192.168.1.5"), family: .ipv4)
