import KubeProxyCore
import KubeProxyDataPlane

/// The userspace data plane's desired state for a snapshot: every service port with its
/// cluster-policy endpoints, as `ProxyController.sync()` computes it before `UserspaceProxy.apply`.
///
/// Why a copy here: the runtime's `ProxyController.userspacePlan` is internal, and the bench
/// must not import `KubeClient` (needed to drive the controller's `SourceEvent`s). Keep this in
/// step with `Sources/KubeProxyRuntime/ProxyController.swift`; if that function becomes public,
/// call it instead.
enum UserspacePlan {
    static func make(_ snapshot: ProxySnapshot, topology: NodeTopology) -> [ServicePortName: ProxiedPort] {
        var plan: [ServicePortName: ProxiedPort] = [:]
        plan.reserveCapacity(snapshot.servicePorts.count)
        for (name, port) in snapshot.servicePorts {
            let selected = EndpointSelection.clusterEndpoints(snapshot.endpoints(for: name), topology: topology)
            plan[name] = ProxiedPort(name: name, sessionAffinity: port.sessionAffinity, endpoints: selected.map(\.address))
        }
        return plan
    }
}
