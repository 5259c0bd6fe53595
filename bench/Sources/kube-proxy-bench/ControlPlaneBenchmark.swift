import KubeAPI
import KubeProxyCore
import KubeProxyDataPlane

/// Times the control plane as a sync does it: record every Service and EndpointSlice event in
/// the Core change trackers, `ProxyState.apply`, take the snapshot, and compute the userspace
/// plan; then time single EndpointSlice changes against the built model.
///
/// Only our code is inside the timed regions: the API objects are generated before the clock
/// starts, and the data plane's sockets are not involved (the plan is what `UserspaceProxy`
/// would be handed). Each phase is checked for the expected result, so a model that silently
/// does nothing cannot report a fast time.
struct ControlPlaneBenchmark {
    let options: BenchOptions
    private let topology = NodeTopology(nodeName: "node-0")
    private let clock = ContinuousClock()

    init(options: BenchOptions) {
        self.options = options
    }

    func run() throws(BenchError) -> ControlPlaneResult {
        var cluster = SyntheticCluster(services: options.services, endpointsPerService: options.endpointsPerService)
        var result = ControlPlaneResult(services: options.services, endpointsPerService: options.endpointsPerService)
        result.residentBeforeMiB = ProcessMemory.residentMiB

        var services = ServiceChangeTracker<ContinuousClock.Instant>()
        var endpoints = EndpointsChangeTracker<ContinuousClock.Instant>(family: .ipv4)
        var state = ProxyState(family: .ipv4)

        let start = clock.now
        for service in cluster.services { services.update(previous: nil, current: service, at: clock.now) }
        let servicesRecorded = clock.now
        for slice in cluster.slices { endpoints.update(previous: nil, current: slice, at: clock.now) }
        let recorded = clock.now
        let delta = state.apply(services: &services, endpoints: &endpoints)
        let snapshot = state.snapshot
        let applied = clock.now
        var planner = UserspacePlanner(topology: topology)
        let plan = planner.update(snapshot: snapshot, delta: delta)
        let planned = clock.now
        try checkInitial(delta: delta, plan: plan)
        result.recordServicesMilliseconds = (servicesRecorded - start).milliseconds
        result.recordSlicesMilliseconds = (recorded - servicesRecorded).milliseconds
        result.applyMilliseconds = (applied - recorded).milliseconds
        result.planMilliseconds = (planned - applied).milliseconds

        var applyTimes: [Double] = []
        var totalTimes: [Double] = []
        for change in 0..<options.changes {
            let index = (change * 7919) % options.services
            let previous = cluster.slices[index]
            let current = SyntheticCluster.toggled(previous)
            cluster.slices[index] = current
            let changeStart = clock.now
            endpoints.update(previous: previous, current: current, at: changeStart)
            let changeDelta = state.apply(services: &services, endpoints: &endpoints)
            let changeSnapshot = state.snapshot
            let changeApplied = clock.now
            let changePlan = planner.update(snapshot: changeSnapshot, delta: changeDelta)
            let changePlanned = clock.now
            guard changeDelta.endpointsChanged.count == 1, changePlan.count == options.services else {
                throw BenchError("change \(change): expected 1 changed service port, got \(changeDelta.endpointsChanged.count)")
            }
            applyTimes.append((changeApplied - changeStart).milliseconds)
            totalTimes.append((changePlanned - changeStart).milliseconds)
        }
        result.changeApplyMilliseconds = applyTimes.median
        result.changeTotalMilliseconds = totalTimes.median
        result.peakResidentMiB = ProcessMemory.peakResidentMiB
        return result
    }

    private func checkInitial(delta: SyncDelta, plan: [ServicePortName: ProxiedPort]) throws(BenchError) {
        let expected = options.services
        guard delta.addedServicePorts.count == expected, delta.endpointsChanged.count == expected,
            delta.serviceProblems.isEmpty, delta.endpointProblems.isEmpty
        else {
            throw BenchError(
                "model incomplete: \(delta.addedServicePorts.count) service ports, "
                    + "\(delta.endpointsChanged.count) with endpoints, \(delta.serviceProblems.count) refused Services, "
                    + "\(delta.endpointProblems.count) refused slices (expected \(expected) each, no refusals)")
        }
        let short = plan.values.filter { $0.endpoints.count != options.endpointsPerService }
        guard plan.count == expected, short.isEmpty else {
            throw BenchError("plan has \(plan.count) ports, \(short.count) without \(options.endpointsPerService) endpoints")
        }
    }
}
