import Foundation
import KubeProxyTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 4's checks of the userspace mode with real packets: the real `kube-proxy` in a node
/// namespace, its iptables portals, a client pod and backend pods (see `UserspaceLab`).
///
/// Each test builds its own lab and destroys it (processes killed by PID, namespaces deleted)
/// on every path. Skipped with the reason when the machine cannot host the lab (not root, no
/// `ip` or `iptables`).
@Suite(.serialized)
struct UserspaceLabTests {
    /// Builds a lab with the proxy running and its portals installed, or cancels the test with
    /// the reason the lab cannot run here.
    static func makeLab() async throws -> UserspaceLab {
        if let reason = NetworkLab.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
        let lab = try await UserspaceLab()
        do {
            try await lab.startProxyAndAwaitPortals()
        } catch {
            lab.destroy()
            throw error
        }
        return lab
    }

    /// Counts names: `["b1", "b2", "b1"]` → `["b1": 2, "b2": 1]`.
    static func tally(_ names: [String]) -> [String: Int] {
        names.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    // MARK: 1. ClusterIP

    @Test func clusterIPRoundRobinFromPodAndNode() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        #expect(try Self.tally(lab.backendsAnswering("10.96.0.10:80", count: 4)) == ["b1": 2, "b2": 2])
        // From the node itself: OUTPUT → KUBE-PORTALS-HOST → DNAT to the node IP.
        #expect(try Self.tally(lab.backendsAnswering("10.96.0.10:80", count: 4, from: lab.node)) == ["b1": 2, "b2": 2])
        // Keep-alive: one connection, one backend for all its requests.
        let keptAlive = try lab.probe(["http", "10.96.0.10:80", "--count", "3"]).map(UserspaceLab.backendName)
        #expect(Set(keptAlive).count == 1 && keptAlive.count == 3, "one keep-alive connection answered by \(keptAlive)")
    }

    // MARK: 2. NodePort, external IPs, LoadBalancer IP

    @Test func nodePortExternalAndLoadBalancerIPs() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let fromPod = [
            "\(UserspaceLab.nodeClientSideIP):30080",  // NodePort on the node's IP facing the client
            "\(UserspaceLab.nodeIP):30080",  // NodePort on the node's primary IP
            "\(UserspaceLab.nodeIP):80",  // external IP that is the node's own address
            "192.0.2.77:80",  // external IP that is not local
            "192.0.2.50:80",  // LoadBalancer ingress IP
        ]
        // Two consecutive picks of a two-endpoint round robin are the two endpoints.
        for target in fromPod {
            #expect(try Set(lab.backendsAnswering(target, count: 2)) == ["b1", "b2"], "from the pod via \(target)")
        }
        // From the node: KUBE-NODEPORT-HOST, the local external IP's R5, the LB IP's R2.
        for target in ["\(UserspaceLab.nodeIP):30080", "\(UserspaceLab.nodeIP):80", "192.0.2.50:80"] {
            #expect(try Set(lab.backendsAnswering(target, count: 2, from: lab.node)) == ["b1", "b2"], "from the node via \(target)")
        }
    }

    // MARK: 3. UDP

    @Test func udpSessionsFollowTheIdleTimeout() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let udp = ["udp", "10.96.0.53:53", "ping", "--count", "3", "--source-port", "40053", "--timeout-ms", "2000"]
        let first = try lab.probe(udp)
        #expect(first.count == 3 && first.allSatisfy { $0.hasSuffix(" ping") }, "replies: \(first)")
        let firstBackends = Set(first.map(UserspaceLab.backendName))
        #expect(firstBackends.count == 1, "one session, one backend; got \(first)")
        // Silence longer than --udp-timeout (500ms): the session ends; the next datagram from
        // the same source port opens a new one on the next backend in turn.
        try await Task.sleep(for: .milliseconds(1500))
        let second = try lab.probe(udp)
        let secondBackends = Set(second.map(UserspaceLab.backendName))
        #expect(secondBackends.count == 1, "one session, one backend; got \(second)")
        #expect(firstBackends.union(secondBackends) == ["b1", "b2"], "sessions \(first) then \(second)")
    }

    // MARK: 4. ClientIP affinity

    @Test func clientIPAffinityPinsThenExpires() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let pinned = try lab.backendsAnswering("10.96.0.11:80", count: 4)
        #expect(Set(pinned).count == 1, "affinity: every new connection to the same backend; got \(pinned)")
        // timeoutSeconds is 2: after 3 s idle the pin is gone and round robin moves on.
        try await Task.sleep(for: .seconds(3))
        let after = try lab.backendsAnswering("10.96.0.11:80", count: 2)
        #expect(Set(after).count == 1, "re-pinned after expiry; got \(after)")
        #expect(Set(pinned + after) == ["b1", "b2"], "before expiry \(pinned), after \(after)")
    }

    // MARK: 5. iptables structure and --cleanup

    @Test func iptablesRulesMatchSpecAndCleanupRemovesThem() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let ports = lab.proxyPorts
        let web = try #require(ports[UserspaceLab.webPort]), dns = try #require(ports[UserspaceLab.dnsPort])
        let sticky = try #require(ports[UserspaceLab.stickyPort])
        let problems = UserspaceExpectedRules.differences(try lab.iptablesSave(), web: web, dns: dns, sticky: sticky)
        if !problems.isEmpty { Issue.record("iptables-save differs from the expected portal rules:\n\(problems.joined(separator: "\n"))") }

        // --cleanup with the proxy gone (it would re-create rules on its next sync).
        await lab.killProxy()
        for run in 1...2 {
            do {
                try lab.runCleanup()
            } catch {
                Issue.record("kube-proxy --cleanup run \(run) failed: \(error)")
            }
            let left = UserspaceExpectedRules.leftovers(try lab.iptablesSave())
            if !left.isEmpty { Issue.record("left after --cleanup run \(run):\n\(left.joined(separator: "\n"))") }
        }
    }

    // MARK: 6. Restart after SIGKILL

    @Test func restartAfterSigkillRestoresServiceWithoutStaleRules() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        let before = lab.proxyPorts
        await lab.killProxy()

        let started = ContinuousClock.now
        // Restarted with stdin closed, as some supervisors start daemons: descriptor 0 is then
        // whatever the proxy opens first (an epoll set), and iptables-save and iptables-restore
        // must still get their own stdin, not that descriptor.
        try await lab.startProxy(stdinClosed: true)
        var restored = false
        while ContinuousClock.now - started < .seconds(2) {
            if (try? lab.backendsAnswering("10.96.0.10:80", count: 1)) != nil { restored = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(restored, "ClusterIP not answering 2 s after restart; proxy output:\n\(lab.proxyTail)")
        #expect(lab.proxyPorts == before, "proxy ports should be re-bound from the existing rules")

        // Let one more sync pass, then the rules must be exactly one set, no leftovers of the old run.
        try await Task.sleep(for: .milliseconds(500))
        let ports = lab.proxyPorts
        let problems = UserspaceExpectedRules.differences(
            try lab.iptablesSave(), web: try #require(ports[UserspaceLab.webPort]),
            dns: try #require(ports[UserspaceLab.dnsPort]), sticky: try #require(ports[UserspaceLab.stickyPort]))
        if !problems.isEmpty { Issue.record("iptables-save after restart:\n\(problems.joined(separator: "\n"))") }
    }

    // MARK: 7. Scaling under load

    @Test func scalingUnderLoadDropsNothing() async throws {
        let lab = try await Self.makeLab()
        defer { lab.destroy() }
        // A keep-alive connection opened before the changes, to a backend that will be removed.
        let held = try await lab.hold("10.96.0.10:80")
        defer { held.close() }
        let heldBackend = UserspaceLab.backendName(try #require(await held.next(), "hold got no first response"))
        let survivor = heldBackend == "b1" ? 2 : 1

        let load = try lab.lab.start(
            lab.client, BuiltProducts.path("kp-probe"),
            ["load", "10.96.0.10:80", "--connections", "200", "--seconds", "6"])
        defer { load.send(SIGKILL) }
        try await Task.sleep(for: .milliseconds(1500))
        try lab.setWebEndpoints([1, 2, 3, 4])
        try await Task.sleep(for: .milliseconds(2000))
        try lab.setWebEndpoints([survivor])

        let status = await load.waitForExit(timeout: .seconds(20))
        let report = try #require(load.output.last { $0.hasPrefix("{") }, "no report; output: \(load.output.suffix(5))")
        #expect(status == 0)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any], "bad report \(report)")
        let failed = json["failed"] as? Int
        #expect(failed == 0, "failed requests under load: \(report)")
        let ok = json["ok"] as? [String: Int] ?? [:]
        #expect(Set(ok.keys).isSuperset(of: ["b3", "b4"]), "scale-up to 4 never reached b3/b4: \(report)")

        // After the scale-down only the survivor answers new connections...
        let after = try lab.backendsAnswering("10.96.0.10:80", count: 4)
        #expect(Set(after) == ["b\(survivor)"], "after scaling to b\(survivor) only: \(after)")
        // ...while the connection opened before all this still reaches its removed backend.
        let heldAgain = await held.next()
        #expect(heldAgain.map(UserspaceLab.backendName) == heldBackend, "held connection answered \(heldAgain ?? "nothing")")
        #expect(lab.proxy?.isRunning == true, "the proxy exited; output:\n\(lab.proxyTail)")
    }
}
