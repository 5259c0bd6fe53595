import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import Logging

/// Keeps the kernel's userspace portal chains equal to the desired rules: one
/// `iptables-restore --noflush` batch per sync that changed something.
///
/// Why it reads `iptables-save` only sometimes: the batch rewrites our five chains whole, so it
/// needs the kernel's state only to repair the parent jumps. It reads it at start, after a
/// failure, after it repaired jumps, and once per `fullResyncPeriod`, so a steady state costs no
/// process at all and a change costs exactly one.
public actor PortalManager {
    private let executor: any IPTablesExecutor
    private let renderer: UserspacePortalRenderer
    private let fullResyncPeriod: Duration
    private let logger: Logger
    private var current: IPTablesRuleSet?
    private var lastRead: ContinuousClock.Instant?
    private var lastApplied: IPTablesRuleSet?

    /// Creates a manager for `renderer.family`.
    public init(
        executor: any IPTablesExecutor, renderer: UserspacePortalRenderer, fullResyncPeriod: Duration, logger: Logger
    ) {
        self.executor = executor
        self.renderer = renderer
        self.fullResyncPeriod = fullResyncPeriod
        self.logger = logger
    }

    /// Reads the kernel's rules left by a previous run and returns the proxy port each service
    /// port (`ns/name:port`) used, so listeners can re-bind them and the rules stay valid:
    /// a restart leaves no window without rules (upstream flushed at start).
    public func start() async throws -> [String: Int] {
        let state = try await read()
        let ports = UserspacePortalRenderer.previousProxyPorts(from: state)
        if !ports.isEmpty {
            logger.info("found portal rules of a previous run; re-using their proxy ports", metadata: ["servicePorts": "\(ports.count)"])
        }
        return ports
    }

    /// Makes the portal chains match `ports`. Throws the tool's error (command, status, stderr).
    public func sync(_ ports: [PortalServicePort]) async throws {
        let desired = renderer.render(ports)
        let now = ContinuousClock.now
        let stale = lastRead.map { now - $0 >= fullResyncPeriod } ?? true
        if current == nil || stale {
            _ = try await read()
        } else if desired == lastApplied {
            return
        }
        guard let current else { return }
        if UserspacePortalRenderer.isSatisfied(desired: desired, current: current) {
            lastApplied = desired
            return
        }
        let script = UserspacePortalRenderer.restoreScript(desired: desired, current: current)
        let repairsJumps = !JumpReconciler.script(current: current).isEmpty
        do {
            try await executor.restore(script.text, family: renderer.family)
        } catch {
            self.current = nil  // read the kernel again before the retry
            lastApplied = nil
            throw error
        }
        lastApplied = desired
        if repairsJumps {
            logger.info("repaired the portal chains' parent jumps")
            self.current = nil
        } else {
            self.current = Self.merging(desired, into: current)
        }
    }

    /// Removes every portal chain and jump (all copies). Harmless when there is nothing.
    public func cleanup() async throws {
        let state = try await read()
        let script = PortalCleanup.script(current: state)
        if script.isEmpty { return }
        try await executor.restore(script.text, family: renderer.family)
        current = nil
        lastApplied = nil
    }

    private func read() async throws -> IPTablesRuleSet {
        let text = try await executor.save(family: renderer.family)
        let state = try IPTablesRuleSet(parsingSave: text)
        current = state
        lastRead = ContinuousClock.now
        return state
    }

    /// The kernel state after a batch that rewrote our chains and repaired no jumps: the old
    /// state with our chains replaced.
    static func merging(_ desired: IPTablesRuleSet, into current: IPTablesRuleSet) -> IPTablesRuleSet {
        var merged = current
        for chain in PortalChain.allCases {
            if let replacement = desired.chain(chain.rawValue, in: chain.table) {
                merged.setChain(replacement, in: chain.table)
            }
        }
        return merged
    }
}
