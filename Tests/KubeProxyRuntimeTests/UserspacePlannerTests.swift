import KubeAPI
import KubeProxyCore
import KubeProxyDataPlane
import Testing

@testable import KubeProxyRuntime

struct UserspacePlannerTests {
    /// Drives random service and slice changes through the real trackers and checks after each
    /// sync that the incremental plan equals the plan computed from scratch.
    @Test(arguments: [1, 2, 3])
    func incrementalPlanEqualsAFullPlanAfterEveryChange(seed: UInt64) {
        var rng = SplitMix(seed: seed)
        var services = ServiceChangeTracker<ContinuousClock.Instant>()
        var endpoints = EndpointsChangeTracker<ContinuousClock.Instant>(family: .ipv4)
        var state = ProxyState(family: .ipv4)
        var planner = UserspacePlanner(topology: NodeTopology(nodeName: "node-1"))
        var liveServices: [String: Service] = [:]
        var liveSlices: [String: EndpointSlice] = [:]
        for step in 0..<200 {
            let name = "svc\(rng.next() % 8)"
            let now = ContinuousClock.now
            switch rng.next() % 4 {
            case 0:
                let new = ProxyControllerTests.service(
                    name, clusterIP: "10.96.0.\(rng.next() % 8 + 1)",
                    ports: [("http", 80, "TCP")] + (rng.next() % 2 == 0 ? [("dns", 53, "UDP")] : []),
                    affinity: rng.next() % 2 == 0 ? "ClientIP" : nil)
                services.update(previous: liveServices[name], current: new, at: now)
                liveServices[name] = new
            case 1:
                services.update(previous: liveServices[name], current: nil, at: now)
                liveServices[name] = nil
            case 2:
                let count = Int(rng.next() % 4)
                let new = ProxyControllerTests.slice(
                    "\(name)-a", service: name,
                    endpoints: (0..<count).map { ("10.0.\(step % 200).\($0 + 1)", rng.next() % 3 != 0, nil, nil) })
                endpoints.update(previous: liveSlices[name], current: new, at: now)
                liveSlices[name] = new
            default:
                endpoints.update(previous: liveSlices[name], current: nil, at: now)
                liveSlices[name] = nil
            }
            if rng.next() % 3 == 0 {
                let delta = state.apply(services: &services, endpoints: &endpoints)
                let incremental = planner.update(snapshot: state.snapshot, delta: delta)
                #expect(incremental == planner.plan(for: state.snapshot), "step \(step)")
            }
        }
    }
}

/// A tiny deterministic generator so failures replay.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
