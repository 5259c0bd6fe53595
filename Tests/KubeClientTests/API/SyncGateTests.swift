import Testing

@testable import KubeClient

@Suite struct SyncGateTests {
    /// Feeds `messages` to `gate` and returns which of them completed the sync.
    private func record(_ messages: [WatcherMessage], into gate: inout SyncGate) -> [Bool] {
        messages.map { gate.record($0) }
    }

    @Test func syncsOnceAfterServicesEndpointsAndANodeAttempt() {
        var gate = SyncGate(watchesNode: true)
        let answers = record(
            [
                .listed(.services), .listed(.endpointSlices), .listFailed(.services), .listFailed(.node("n")),
                .listed(.node("n")), .listed(.services),
            ], into: &gate)
        #expect(answers == [false, false, false, true, false, false])
        #expect(gate.endpointsResource == .endpointSlices)
    }

    @Test func withoutANodeServicesAndLegacyEndpointsAreEnough() {
        var gate = SyncGate(watchesNode: false)
        #expect(record([.listed(.endpoints), .listed(.services)], into: &gate) == [false, true])
    }

    /// A ServiceCIDR listing is neither the Node attempt nor required: the first sync waits
    /// for the Node only.
    @Test func serviceCIDRsNeitherGateNorStandInForTheNode() {
        var gate = SyncGate(watchesNode: true)
        let answers = record(
            [.listed(.serviceCIDRs), .listed(.services), .listed(.endpointSlices), .listFailed(.node("n"))], into: &gate)
        #expect(answers == [false, false, false, true])
    }

    @Test func aFailedServiceListDoesNotCount() {
        var gate = SyncGate(watchesNode: false)
        #expect(record([.listFailed(.services), .listed(.endpoints), .events([])], into: &gate) == [false, false, false])
    }
}
