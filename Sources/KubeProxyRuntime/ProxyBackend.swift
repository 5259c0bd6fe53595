import KubeAPI
import KubeProxyCore
import Logging
import ServiceLifecycle

/// One proxy mode behind the mode-agnostic `SyncLoop`: turns the model into a plan, and the
/// plan into listeners or kernel rules.
///
/// Why two steps: `plan` is pure given the backend's own tracked state, so a golden test can
/// compare its value (rules, sockets) without I/O; `apply` is the only place a mode touches
/// sockets or the kernel. Everything about Services, endpoints and policies is already resolved
/// in the `ProxySnapshot` the loop hands over, so no mode re-implements it.
///
/// A backend is an actor because it keeps state between syncs (what it programmed last, for
/// partial syncs) and the loop awaits it; the loop never calls it concurrently with itself.
public protocol ProxyBackend: Actor {
    /// What one sync should program: a value, compared by golden tests.
    associatedtype Plan: Sendable

    /// Reads what a previous run left (rules, proxy ports) so the first sync continues from it
    /// instead of starting with an empty kernel. Called once before the first sync; a throw is
    /// fatal (the mode cannot run here), so recoverable problems are logged and swallowed.
    func start() async throws

    /// The plan for `snapshot`, the state after `delta`. Pure apart from the backend's own
    /// bookkeeping (an incremental planner updates what it tracks): no I/O.
    func plan(snapshot: ProxySnapshot, delta: SyncDelta) -> Plan

    /// Programs `plan`; the only side effects of a sync. Failures are part of the outcome, not
    /// thrown, because every failure means the same thing to the loop: retry soon, keep
    /// `/healthz` where it was.
    func apply(_ plan: Plan) async -> SyncOutcome

    /// Stops serving at shutdown: listeners stop accepting and open connections get up to
    /// `drainTimeout` to finish. Kernel modes leave their rules in place (a restart continues
    /// from them), as upstream.
    func shutdown(drainTimeout: Duration) async

    /// This node's object changed (or was deleted: `nil`), delivered just before the next
    /// `plan` (a Node event always requests a sync). Kernel modes select endpoints by the
    /// node's zone label (topology hints) and may detect local traffic by its pod CIDRs, so a
    /// backend that uses them re-plans everything at that next plan, as upstream forces a full
    /// resync on a label change.
    func nodeChanged(_ node: Node?)

    /// The ranges ClusterIPs are allocated from (every ServiceCIDR object's `spec.cidrs`, of
    /// the backend's family or not), delivered just before the next `plan` when they changed.
    /// nftables mode drops traffic to addresses in them that no Service holds.
    func serviceCIDRsChanged(_ cidrs: [CIDR])

    /// Long-running helpers the mode needs next to the sync loop (e.g. the userspace data
    /// plane's statistics reporter), run in the same service group.
    nonisolated var auxiliaryServices: [any ServiceLifecycle.Service] { get }

    /// `--cleanup`: removes everything this mode may have left in the kernel, for both IP
    /// families. Harmless when there is nothing; throws when something was there and could not
    /// be removed, so the exit status says so.
    static func cleanup(logger: Logger) async throws
}

extension ProxyBackend {
    /// Modes that ignore the Node (userspace balances over all endpoints it is given) need no
    /// resync when it changes.
    public func nodeChanged(_ node: Node?) {}

    /// Modes without a rule for unallocated ClusterIPs ignore the ranges.
    public func serviceCIDRsChanged(_ cidrs: [CIDR]) {}

    /// No helpers by default.
    public nonisolated var auxiliaryServices: [any ServiceLifecycle.Service] { [] }
}
