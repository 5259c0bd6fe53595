import KubeProxyCore

/// What one `ProxyBackend.apply` achieved, in terms every mode shares: the loop and its
/// observers (health, metrics, conntrack) read only this, never a mode's internals.
public struct SyncOutcome: Sendable, Hashable {
    /// Whether the plan is in place, and whether the scheduler should retry before the next
    /// periodic sync.
    public enum Result: Sendable, Hashable {
        /// Everything in the plan is programmed.
        case succeeded
        /// The plan is programmed except for parts that cannot be right now (e.g. a port
        /// another program holds, left out on purpose): `/healthz` and the sync metrics count
        /// the sync as done, and the scheduler retries after its short backoff.
        case programmedWithRetry(reason: String)
        /// The plan is not (fully) in place: `/healthz` keeps its last update, no sync is
        /// recorded, and the scheduler retries after its short backoff.
        case failed(reason: String)
    }

    /// Whether the sync rewrote everything the mode owns or only what the delta touched; kernel
    /// modes record them in separate duration histograms.
    public enum Kind: Sendable, Hashable {
        /// Everything was compared or rewritten (first sync, after a failure, periodic check).
        case full
        /// Only what changed was written (or nothing, when nothing changed).
        case partial
    }

    /// Kernel-mode facts for the mode's metrics (spec §7.1): rule counts and failures. Modes
    /// without kernel rules leave it `nil`.
    public struct RuleFacts: Sendable, Hashable {
        /// A failure a kernel mode counts in its own counter.
        public enum Failure: String, Sendable, Hashable, CaseIterable {
            /// A full `iptables-restore` failed.
            case restore
            /// A partial `iptables-restore` failed (the next sync is full).
            case partialRestore
            /// The `nft -f -` transaction failed.
            case nftablesSync
            /// Deleting stale nftables chains failed.
            case nftablesCleanup
        }

        /// Rules the kernel holds per table after the sync (e.g. `filter`, `nat`).
        public var rulesPerTable: [String: Int]
        /// Rules (or transaction lines) written by this sync, per table.
        public var rulesWrittenPerTable: [String: Int]
        /// Failures of this sync, one entry per failed step.
        public var failures: [Failure]

        /// Creates a set of facts.
        public init(
            rulesPerTable: [String: Int] = [:], rulesWrittenPerTable: [String: Int] = [:], failures: [Failure] = []
        ) {
            self.rulesPerTable = rulesPerTable
            self.rulesWrittenPerTable = rulesWrittenPerTable
            self.failures = failures
        }
    }

    /// Whether the plan is in place and whether to retry soon.
    public var result: Result
    /// Full or partial sync.
    public var kind: Kind
    /// Why some service ports are not served at all (e.g. no listener capacity), shown by
    /// `/healthz` as its failure reason; `nil` when every port is served.
    public var unservedReason: String?
    /// UDP service ports whose endpoints (or the port itself) went away in this sync: their
    /// conntrack entries may still steer packets at a backend that is gone.
    public var staleUDPServicePorts: Set<ServicePortName>
    /// Mode facts for metrics; `nil` for modes without kernel rules.
    public var ruleFacts: RuleFacts?

    /// Creates an outcome.
    public init(
        result: Result, kind: Kind = .partial, unservedReason: String? = nil,
        staleUDPServicePorts: Set<ServicePortName> = [], ruleFacts: RuleFacts? = nil
    ) {
        self.result = result
        self.kind = kind
        self.unservedReason = unservedReason
        self.staleUDPServicePorts = staleUDPServicePorts
        self.ruleFacts = ruleFacts
    }

    /// Whether `/healthz` and the sync metrics count this sync as done.
    public var isProgrammed: Bool {
        switch result {
        case .succeeded, .programmedWithRetry: true
        case .failed: false
        }
    }

    /// Whether the scheduler should retry after its short backoff.
    public var wantsRetry: Bool { result != .succeeded }
}

extension SyncDelta {
    /// The UDP service ports this delta removed or took endpoints from (spec §1.6's input).
    /// `snapshot` is the state after the delta, for the protocol of ports that still exist.
    public func staleUDPServicePorts(in snapshot: ProxySnapshot) -> Set<ServicePortName> {
        var stale = Set(removedServicePorts.values.filter { $0.protocol == .udp }.map(\.name))
        for name in removedEndpoints.keys where snapshot.servicePorts[name]?.protocol == .udp {
            stale.insert(name)
        }
        return stale
    }
}
