import KubeProxyCore
import KubeProxyDataPlane
import KubeProxyRuntime
import Synchronization

/// A data plane that keeps what it was asked to serve, so controller tests assert the resulting
/// state (which ports, which endpoints) rather than a call log.
public final class FakeUserspaceDataPlane: UserspaceDataPlane {
    private struct State {
        var ports: [ServicePortName: ProxiedPort] = [:]
        var applyCount = 0
        var shutDown = false
        var failing: Set<ServicePortName> = []
        var claims: Set<PortClaim> = []
        var takenByOthers: Set<Int> = []
        var unserved: UnservedPorts?
    }

    private let state = Mutex(State())

    /// Creates an empty fake.
    public init() {}

    /// The ports currently served, as last applied.
    public var ports: [ServicePortName: ProxiedPort] { state.withLock { $0.ports } }
    /// How many times `apply` ran.
    public var applyCount: Int { state.withLock { $0.applyCount } }
    /// Whether `shutdown` ran.
    public var isShutDown: Bool { state.withLock { $0.shutDown } }

    /// Makes the listener of `name` fail to open until cleared.
    public func setFailing(_ names: Set<ServicePortName>) { state.withLock { $0.failing = names } }

    /// Makes `unservedPorts()` report `report` (as a capacity-limited proxy would) until `nil`.
    public func setUnserved(_ report: UnservedPorts?) { state.withLock { $0.unserved = report } }

    public func unservedPorts() async -> UnservedPorts? { state.withLock { $0.unserved } }

    public func apply(_ desired: [ServicePortName: ProxiedPort]) async -> [DataPlaneChange] {
        state.withLock { state in
            state.applyCount += 1
            var changes: [DataPlaneChange] = []
            for (name, port) in desired.sorted(by: { $0.key < $1.key }) {
                if state.failing.contains(name) {
                    state.ports[name] = nil
                    changes.append(
                        DataPlaneChange(
                            kind: .failed, name: name, listenAddress: .v4(0x7f00_0001), port: nil,
                            endpointCount: port.endpoints.count, reason: "injected failure"))
                    continue
                }
                let kind: DataPlaneChange.Kind? =
                    state.ports[name] == nil ? .started : (state.ports[name] != port ? .updated : nil)
                state.ports[name] = port
                if let kind {
                    changes.append(
                        DataPlaneChange(
                            kind: kind, name: name, listenAddress: .v4(0x7f00_0001), port: 40000,
                            endpointCount: port.endpoints.count, reason: ""))
                }
            }
            for (name, port) in state.ports where desired[name] == nil {
                state.ports[name] = nil
                changes.append(
                    DataPlaneChange(
                        kind: .stopped, name: name, listenAddress: .v4(0x7f00_0001), port: 40000,
                        endpointCount: port.endpoints.count, reason: ""))
            }
            return changes
        }
    }

    public func listenerPorts() async -> [ServicePortName: Int] {
        state.withLock { state in
            var ports: [ServicePortName: Int] = [:]
            for (index, name) in state.ports.keys.sorted().enumerated() { ports[name] = 40000 + index }
            return ports
        }
    }

    /// Ports "another program" holds: claims on them fail.
    public func setTakenByOthers(_ ports: Set<Int>) { state.withLock { $0.takenByOthers = ports } }

    /// The claims held now.
    public var claims: Set<PortClaim> { state.withLock { $0.claims } }

    public func updateClaims(_ desired: Set<PortClaim>) async -> [PortClaimResult] {
        state.withLock { state in
            var results: [PortClaimResult] = []
            for claim in state.claims.subtracting(desired) {
                results.append(PortClaimResult(claim: claim, outcome: .released))
            }
            var held: Set<PortClaim> = []
            for claim in desired.sorted() {
                if state.takenByOthers.contains(claim.port) {
                    results.append(PortClaimResult(claim: claim, outcome: .failed(errno: 98, detail: "in use by another program")))
                } else {
                    if !state.claims.contains(claim) { results.append(PortClaimResult(claim: claim, outcome: .claimed)) }
                    held.insert(claim)
                }
            }
            state.claims = held
            return results
        }
    }

    public func statistics() async -> [ServicePortName: ListenerStatistics] {
        state.withLock { state in state.ports.mapValues { _ in ListenerStatistics() } }
    }

    public func shutdown(drainTimeout: Duration) async {
        state.withLock {
            $0.ports = [:]
            $0.claims = []
            $0.shutDown = true
        }
    }
}
