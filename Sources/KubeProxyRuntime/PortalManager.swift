import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import Logging

/// Keeps the kernel's userspace portal chains equal to the desired rules.
///
/// Two paths (docs/userspace-behaviour.md#rule-updates):
/// - **Incremental** (the steady state): the `PortalRuleBook` remembers each service port's
///   input and rules; a sync re-renders only the ports whose input changed and writes one
///   `iptables-restore --noflush` batch of `-D` (the exact old rules) and `-A` lines for them.
///   A sync where no portal input changed — nothing at all, or only endpoints — renders
///   nothing and runs no process. Cost is linear in the number of service ports only for
///   comparing inputs; rendering and writing are proportional to the change.
/// - **Full**: read `iptables-save`, compare it with the book (counting rules, no re-render),
///   and if anything differs rewrite the five chains whole plus the parent-jump repairs. Taken
///   on the first sync, after any failed restore, after a batch that repaired jumps (to confirm
///   them), and once per `fullResyncPeriod` to catch rules someone else changed.
public actor PortalManager {
    private let executor: any IPTablesExecutor
    private let renderer: UserspacePortalRenderer
    private let fullResyncPeriod: Duration
    private let logger: Logger
    /// The rendered rules; while `inSync`, exactly what the kernel's portal chains hold.
    private var book = PortalRuleBook()
    /// Whether the kernel is known to hold `book`'s rules and the jumps, so the next sync may
    /// be incremental. Cleared by every failure and by jump repairs.
    private var inSync = false
    private var lastRead: ContinuousClock.Instant?

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

    /// Makes the portal chains match `ports` and returns which path it took (for the sync
    /// metrics). Throws the tool's error (command, status, stderr); the next sync then takes
    /// the full path.
    @discardableResult
    public func sync(_ ports: [PortalServicePort]) async throws -> SyncOutcome.Kind {
        try await sync(PortalRuleBook.keyed(ports), changed: nil)
    }

    /// `sync(_:)` over ports keyed by name, when only the ports named in `changed` can differ
    /// from the previous sync's (`nil`: any may): the incremental path then compares those
    /// alone, so a one-port change costs one port at 10k. The full path (first sync, after a
    /// failure, once per period) still compares all of `wanted` with the kernel.
    @discardableResult
    public func sync(_ wanted: [ServicePortName: PortalServicePort], changed: Set<ServicePortName>?) async throws
        -> SyncOutcome.Kind
    {
        let stale = lastRead.map { ContinuousClock.now - $0 >= fullResyncPeriod } ?? true
        if !inSync || stale {
            try await fullSync(wanted)
            return .full
        }
        // Updated in place (a copy would duplicate 10k entries on every change). The renders are
        // right whatever happens to the restore; a failure only clears `inSync`.
        let script =
            if let changed {
                book.update(changed, in: wanted, renderer: renderer)
            } else {
                book.update(to: wanted, renderer: renderer)
            }
        if script.isEmpty { return .partial }
        do {
            try await executor.restore(script.text, family: renderer.family)
        } catch {
            inSync = false
            throw error
        }
        return .partial
    }

    /// Makes the next sync take the full path (read `iptables-save`, compare, rewrite if needed),
    /// for when something outside the manager may have changed the rules.
    public func requireFullSync() {
        inSync = false
    }

    /// Reads the kernel, and rewrites the five chains (and repairs the jumps) unless they
    /// already hold exactly the book's rules.
    ///
    /// The rewrite is streamed to `iptables-restore` from the book (`PortalFullWrite`): no
    /// script, argument lists or joined text of every rule are held, and the kernel's portal
    /// rules are checked line by line (`PortalKernelRead`) instead of parsed and kept (issue #9:
    /// these were about 50 MiB at 10k Services).
    private func fullSync(_ wanted: [ServicePortName: PortalServicePort]) async throws {
        inSync = false
        book.load(wanted, renderer: renderer)
        let write: PortalFullWrite
        do {
            // Read against the book: the portal chains' rules are counted off line by line, not
            // kept (the periodic full sync at 10k Services otherwise holds all of them parsed).
            let text = try await executor.save(family: renderer.family)
            let state = try PortalKernelRead(parsingSave: text, book: book)
            lastRead = ContinuousClock.now
            if state.isSatisfied {
                inSync = true
                return
            }
            write = PortalFullWrite(book: book, current: state.others)
        }
        try await executor.restore(streaming: { emit in try write.write(emit) }, family: renderer.family)
        if write.repairsJumps {
            // Read again next time to confirm the jumps: another program may be fighting us.
            logger.info("repaired the portal chains' parent jumps")
        } else {
            inSync = true
        }
    }

    /// Removes every portal chain and jump (all copies). Harmless when there is nothing.
    public func cleanup() async throws {
        let state = try await read()
        let script = PortalCleanup.script(current: state)
        if script.isEmpty { return }
        try await executor.restore(script.text, family: renderer.family)
        inSync = false
    }

    private func read() async throws -> IPTablesRuleSet {
        let text = try await executor.save(family: renderer.family)
        let state = try IPTablesRuleSet(parsingSave: text)
        lastRead = ContinuousClock.now
        return state
    }
}
