import Foundation
import KubeAPI
import Testing

@Suite struct ServiceCIDRTests {
    /// As `kubectl get servicecidr kubernetes -o json` prints the default range of a dual-stack cluster.
    static let json = """
        {"apiVersion":"networking.k8s.io/v1","kind":"ServiceCIDR",
         "metadata":{"name":"kubernetes","resourceVersion":"181","creationTimestamp":"2026-01-01T00:00:00Z"},
         "spec":{"cidrs":["10.96.0.0/12","fd00:10:96::/112"]},
         "status":{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z",
                                  "reason":"","message":"Kubernetes Service CIDR is ready"}]}}
        """

    @Test func decodesTheRanges() throws {
        let cidr = try JSONDecoder().decode(ServiceCIDR.self, from: Data(Self.json.utf8))
        #expect(cidr.metadata.name == "kubernetes")
        #expect(cidr.spec?.cidrs == ["10.96.0.0/12", "fd00:10:96::/112"])
        #expect(cidr.status?.conditions?.first?.type == "Ready")
    }

    @Test func roundTripsEveryModelledField() throws {
        try RoundTrip.check(ServiceCIDR.self, Data(Self.json.utf8))
    }
}
