import Foundation
import KubeAPI
import Testing

@Suite struct NodeTests {
    static let json = """
        {"kind":"Node","apiVersion":"v1",
         "metadata":{"name":"node-a","labels":{"topology.kubernetes.io/zone":"zone-a"},"managedFields":[{"manager":"kubelet"}]},
         "spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24","fd00:10:244:1::/64"],"providerID":"kind://node-a",
                 "unschedulable":true,"taints":[{"key":"k","value":"v","effect":"NoSchedule","timeAdded":"2024-01-01T00:00:00Z"}]},
         "status":{"addresses":[{"type":"InternalIP","address":"192.0.2.10"},{"type":"Hostname","address":"node-a"}],
                   "conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2024-01-01T00:00:00Z",
                                  "lastTransitionTime":"2024-01-01T00:00:00Z","reason":"KubeletReady","message":"ok"}],
                   "nodeInfo":{"kubeletVersion":"v1.31.0"}}}
        """

    @Test func decodesTheFieldsKubeProxyUses() throws {
        let node = try JSONDecoder().decode(Node.self, from: Data(Self.json.utf8))
        #expect(node.metadata.labels?[WellKnownLabels.topologyZone] == "zone-a")
        #expect(node.spec?.podCIDRs == ["10.244.1.0/24", "fd00:10:244:1::/64"])
        #expect(node.spec?.taints?.first?.effect == "NoSchedule")
        #expect(node.status?.addresses?.first == NodeAddress(type: "InternalIP", address: "192.0.2.10"))
        #expect(node.status?.conditions?.first?.reason == "KubeletReady")
    }

    @Test func roundTripsEveryModelledField() throws {
        try RoundTrip.check(
            Node.self, Data(Self.json.utf8), unmodelled: ["metadata.managedFields", "status.nodeInfo"])
    }
}
