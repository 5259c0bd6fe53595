import KubeProxyCore

/// What one sync writes: the main transaction, then an optional clean-up transaction (deleting
/// chains that have been stale long enough and, after a partial sync, the affinity sets the main
/// transaction stopped using), run on its own so its failure cannot block the sync. Each
/// `delete` makes nft 1.0.x dump every chain of the table first, so a change does not wait for
/// them: the clean-up runs after the main transaction, which it needs (the main transaction
/// flushes the rules that used those sets).
public struct NFTSyncPlan: Hashable, Sendable {
    /// `delete chain` for chains flushed at least `NFTKernelState.staleChainDelay` ago and (partial
    /// syncs) `delete set` for affinity sets no longer used once `main` ran; run after `main`.
    public var cleanup: NFTTransaction
    /// Everything else, atomically: skeleton (full syncs), changed chains, element changes,
    /// flushes of newly stale chains, deletion of unused affinity sets (full syncs).
    public var main: NFTTransaction
    /// The stale-chain bookkeeping once `main` has succeeded.
    public var staleSinceAfterMain: [String: Duration]
    /// Whether this was planned as a full sync.
    public var full: Bool
    /// The per-service-port record once `main` has succeeded.
    public var servicePortsAfterMain: ServicePortRecord

    /// How the kept per-service-port record changes with the main transaction.
    public enum ServicePortRecord: Hashable, Sendable {
        /// Not tracked (a partial sync against a table read from the kernel).
        case untracked
        /// Every service port, after a full sync.
        case all([ServicePortName: NFTServicePortObjects])
        /// The changed service ports' new objects (`nil`: the port is gone).
        case changed([ServicePortName: NFTServicePortObjects?])
    }
}

extension NFTKernelState {
    /// How long a flushed chain waits before it is deleted: kernels before 6.2 notice only
    /// after a moment that a removed map element no longer references the chain (spec §3.5).
    public static let staleChainDelay: Duration = .seconds(1)

    /// Plans the transactions that make the kernel hold `ruleset` (spec §3.5).
    ///
    /// - Parameters:
    ///   - changed: service ports whose Service or endpoints changed since the last successful
    ///     sync; their chains are rewritten even if the digest matches (upstream's operation
    ///     counts depend on it).
    ///   - full: rewrite the skeleton and every non-endpoint chain; endpoint chains and
    ///     elements the kernel already holds are kept (a restart adds only what is missing).
    ///     Forced when the table does not exist.
    ///   - now: monotonic time (same origin as earlier calls), for stale-chain ageing.
    public func plan(_ ruleset: NFTRuleset, changed: Set<ServicePortName>, full requestedFull: Bool, now: Duration) -> NFTSyncPlan {
        let full = requestedFull || !tableExists
        if !full, let written = servicePortsWritten {
            return planPartial(ruleset, changed: changed, written: written, now: now)
        }
        var desiredChains = Set(ruleset.chains.map(\.name))
        for port in ruleset.servicePorts.values { desiredChains.formUnion(port.chains.map(\.name)) }
        let (cleanup, staleKept) = planCleanup(desiredChains: desiredChains, now: now)
        var staleAfter = staleKept

        let sortedPorts = ruleset.sortedServicePorts
        var main = NFTTransaction(family: family, table: table)
        writeSkeleton(ruleset, full: full, into: &main)
        writeServicePorts(sortedPorts, changed: changed, full: full, into: &main)
        writeElements(sortedPorts, into: &main)

        // Newly stale per-service chains are flushed now and deleted in a later sync.
        let newlyStale = chains.keys.filter {
            staleSince[$0] == nil && NFTChainNames.isServiceChain($0) && !desiredChains.contains($0)
        }
        for name in newlyStale.sorted() {
            main.append(.flushChain(name))
            staleAfter[name] = now
        }
        // Unused affinity sets go at once (after the flushes above removed their users).
        var desiredSets = Set(ruleset.sets.map(\.name))
        for port in ruleset.servicePorts.values { desiredSets.formUnion(port.affinitySets.map(\.name)) }
        for name in sets.keys.sorted() where NFTChainNames.isAffinitySet(name) && !desiredSets.contains(name) {
            main.append(.deleteSet(name, sets[name]?.kind ?? .set))
        }
        return NFTSyncPlan(
            cleanup: cleanup, main: main, staleSinceAfterMain: staleAfter, full: full,
            servicePortsAfterMain: full ? .all(ruleset.servicePorts) : .untracked)
    }

    /// A partial sync that looks only at the changed service ports: their old objects (as last
    /// written) against their new ones. Other ports are not visited, so one endpoint change
    /// costs the same with 10 or 10,000 services.
    private func planPartial(
        _ ruleset: NFTRuleset, changed: Set<ServicePortName>, written: [ServicePortName: NFTServicePortObjects], now: Duration
    ) -> NFTSyncPlan {
        let names = changed.sorted()
        // A chain name belongs to one service port, so only the changed ports' chains can
        // start or stop being wanted (stale chains of other ports stay unwanted).
        var desiredChains = Set(ruleset.chains.map(\.name))
        var updates: [ServicePortName: NFTServicePortObjects?] = [:]
        for name in names {
            let objects = ruleset.servicePorts[name]
            updates[name] = .some(objects)
            if let objects { desiredChains.formUnion(objects.chains.map(\.name)) }
        }
        var (cleanup, staleKept) = planCleanup(desiredChains: desiredChains, now: now)
        var staleAfter = staleKept

        let newPorts = names.compactMap { ruleset.servicePorts[$0] }
        // Spelled so that nft 1.0.x does not dump every chain of the table first (see
        // NFTTextForm): that dump, not our work, is what a small change costs at scale.
        var declarations = Dictionary(ruleset.sets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for port in newPorts {
            for set in port.affinitySets { declarations[set.name] = set }
        }
        var main = NFTTransaction(family: family, table: table)
        main.textForm = .grouped(declarations: declarations)
        writeSkeleton(ruleset, full: false, into: &main)
        writeServicePorts(newPorts, changed: changed, full: false, into: &main)
        writeChangedElements(names, ruleset: ruleset, written: written, into: &main)

        var candidates = orphanedChains
        var desiredSets = Set<String>()
        var oldSets: [String] = []
        for name in names {
            let new = ruleset.servicePorts[name]
            desiredSets.formUnion(new?.affinitySets.map(\.name) ?? [])
            guard let old = written[name] else { continue }
            candidates.formUnion(old.chains.map(\.name))
            oldSets += old.affinitySets.map(\.name)
        }
        let newlyStale = candidates.filter {
            chains[$0] != nil && staleSince[$0] == nil && NFTChainNames.isServiceChain($0) && !desiredChains.contains($0)
        }
        for name in newlyStale.sorted() {
            main.append(.flushChain(name))
            staleAfter[name] = now
        }
        // Unused affinity sets go in the clean-up, after `main` flushed the rules using them:
        // a `delete` in `main` would make nft dump every chain before the change is in.
        var unusedSets = Set(oldSets).subtracting(desiredSets)
        if !orphanedSets.isEmpty {
            var used = desiredSets
            for (name, port) in written where updates[name] == nil { used.formUnion(port.affinitySets.map(\.name)) }
            unusedSets.formUnion(orphanedSets.subtracting(used))
        }
        for name in unusedSets.sorted() where sets[name] != nil {
            cleanup.append(.deleteSet(name, sets[name]?.kind ?? .set))
        }
        return NFTSyncPlan(
            cleanup: cleanup, main: main, staleSinceAfterMain: staleAfter, full: false, servicePortsAfterMain: .changed(updates))
    }

    /// The clean-up transaction (chains stale for long enough and still unused) and the stale
    /// chains that keep waiting.
    private func planCleanup(desiredChains: Set<String>, now: Duration) -> (NFTTransaction, [String: Duration]) {
        var cleanup = NFTTransaction(family: family, table: table)
        var staleAfter: [String: Duration] = [:]
        for (name, since) in staleSince.sorted(by: { $0.key < $1.key }) where !desiredChains.contains(name) && chains[name] != nil {
            if now - since >= Self.staleChainDelay {
                cleanup.append(.deleteChain(name))
            } else {
                staleAfter[name] = since
            }
        }
        return (cleanup, staleAfter)
    }

    /// Records a clean-up transaction that succeeded (before or after the plan's main one).
    public mutating func commitCleanup(_ plan: NFTSyncPlan) {
        apply(plan.cleanup)
        for operation in plan.cleanup.operations {
            switch operation {
            case .deleteChain(let name): orphanedChains.remove(name)
            case .deleteSet(let name, _): orphanedSets.remove(name)
            default: break
            }
        }
    }

    /// Records a main transaction that succeeded.
    public mutating func commitMain(_ plan: NFTSyncPlan) {
        apply(plan.main)
        staleSince = plan.staleSinceAfterMain
        // Stale chains whose deletion did not run are flushed again by the next sync
        // (`commitCleanup` takes back those it deleted, when the clean-up runs second).
        orphanedChains = []
        for case .deleteChain(let name) in plan.cleanup.operations where chains[name] != nil {
            orphanedChains.insert(name)
        }
        orphanedSets = []
        for case .deleteSet(let name, _) in plan.cleanup.operations where sets[name] != nil {
            orphanedSets.insert(name)
        }
        switch plan.servicePortsAfterMain {
        case .untracked:
            servicePortsWritten = nil
            elementUsers = [:]
        case .all(let ports):
            servicePortsWritten = ports
            elementUsers = [:]
            for port in ports.values {
                for element in port.elements { elementUsers[NFTElementID(element), default: 0] += 1 }
            }
        case .changed(let updates):
            for (name, objects) in updates {
                for element in servicePortsWritten?[name]?.elements ?? [] {
                    let id = NFTElementID(element)
                    let users = (elementUsers[id] ?? 1) - 1
                    elementUsers[id] = users > 0 ? users : nil
                }
                for element in objects?.elements ?? [] { elementUsers[NFTElementID(element), default: 0] += 1 }
                servicePortsWritten?[name] = objects
            }
        }
    }

    // MARK: - Phases

    private func writeSkeleton(_ ruleset: NFTRuleset, full: Bool, into tx: inout NFTTransaction) {
        let nodePortSet = NFTRenderer.nodePortIPsSet
        if full {
            let wanted = Dictionary(ruleset.chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            // Chains of another layout, or base chains whose hook changed, go first.
            let obsolete = chains.keys.sorted().filter { name in
                guard let have = chains[name], !NFTChainNames.isServiceChain(name) else { return false }
                guard let want = wanted[name] else { return true }
                return have.base != nil && have.base != want.chain.base
            }
            tx.append(.addTable(comment: ruleset.tableComment))
            let kept = ruleset.chains.filter { chains[$0.name] != nil && !obsolete.contains($0.name) }.map(\.name)
            for name in kept + obsolete { tx.append(.flushChain(name)) }
            for name in obsolete { tx.append(.deleteChain(name)) }
            for set in ruleset.sets { tx.append(.addSet(set)) }
            for chain in ruleset.chains { tx.append(.addChain(chain.chain)) }
            for chain in ruleset.chains where !kept.contains(chain.name) { tx.append(.flushChain(chain.name)) }
            for chain in ruleset.chains { tx.append(contentsOf: chain.rules.map(NFTOperation.addRule)) }
            tx.append(.flushSet(nodePortSet, .set))
            tx.append(contentsOf: ruleset.nodePortIPElements.map(NFTOperation.addElement))
            return
        }
        for set in ruleset.sets where sets[set.name] == nil { tx.append(.addSet(set)) }
        let rewrite = ruleset.chains.filter { chains[$0.name]?.digest != $0.digest }
        for chain in rewrite { tx.append(.addChain(chain.chain)) }
        for chain in rewrite {
            tx.append(.flushChain(chain.name))
            tx.append(contentsOf: chain.rules.map(NFTOperation.addRule))
        }
        let have = sets[nodePortSet]?.elements ?? [:]
        let want = Set(ruleset.nodePortIPElements.map(\.keyText))
        for key in have.keys.sorted() where !want.contains(key) {
            tx.append(.deleteElement(NFTElement(set: nodePortSet, key: [key])))
        }
        for element in ruleset.nodePortIPElements where have[element.keyText] == nil { tx.append(.addElement(element)) }
    }

    private func writeServicePorts(
        _ ports: [NFTServicePortObjects], changed: Set<ServicePortName>, full: Bool, into tx: inout NFTTransaction
    ) {
        // The transaction keeps the ports and the few chains not written, not a list of the
        // (at 10,000 Services 110,000) chains that are.
        var kept: Set<String> = []
        for port in ports {
            let portChanged = changed.contains(port.name)
            for set in port.affinitySets where full || portChanged || sets[set.name] == nil {
                tx.append(.addSet(set))
            }
            for chain in port.chains where !mustWrite(chain, portChanged: portChanged, full: full) {
                kept.insert(chain.name)
            }
        }
        tx.appendChains(of: ports, skipping: kept)
    }

    /// Whether a per-service chain has to be (re)written. On a full sync (start-up: every
    /// service port is new to the loop) an endpoint chain the kernel already holds is kept when
    /// it matches: its rules follow from its name, affinity and protocol, and the rule count
    /// tells an affinity chain from a plain one.
    private func mustWrite(_ chain: NFTChainContent, portChanged: Bool, full: Bool) -> Bool {
        guard let have = chains[chain.name], staleSince[chain.name] == nil else { return true }
        let matches = have.digest.map { $0 == chain.digest } ?? (chain.isEndpoint && have.ruleCount == chain.ruleCount)
        if chain.isEndpoint && full { return !matches }
        if portChanged || full { return true }
        return !matches
    }

    private func writeElements(_ ports: [NFTServicePortObjects], into tx: inout NFTTransaction) {
        var wanted: [String: [String: NFTElement]] = [:]
        for port in ports {
            for element in port.elements { wanted[element.set, default: [:]][element.keyText] = element }
        }
        for name in NFTRenderer.serviceElementSets {
            let have = sets[name]?.elements ?? [:]
            let want = wanted[name] ?? [:]
            let additions = Self.additions(want: want, have: have, into: &tx)
            for key in have.keys.sorted() where want[key] == nil {
                tx.append(.deleteElement(NFTElement(set: name, key: key.splitOn(" . ").map(String.init))))
            }
            tx.append(contentsOf: additions.map(NFTOperation.addElement))
        }
    }
}

extension NFTKernelState {
    /// The element diff of a partial sync: the changed ports' new elements are added unless
    /// the kernel holds them with that value; their old elements go when no other port uses
    /// them. Same order as a full diff: per set, value changes and removals, then additions.
    fileprivate func writeChangedElements(
        _ names: [ServicePortName], ruleset: NFTRuleset, written: [ServicePortName: NFTServicePortObjects],
        into tx: inout NFTTransaction
    ) {
        var wanted: [String: [String: NFTElement]] = [:]
        var users: [NFTElementID: Int] = [:]
        var dropped: [String: [String: NFTElement]] = [:]
        for name in names {
            for element in written[name]?.elements ?? [] {
                let id = NFTElementID(element)
                users[id] = (users[id] ?? elementUsers[id] ?? 0) - 1
                dropped[element.set, default: [:]][id.key] = element
            }
        }
        for name in names {
            for element in ruleset.servicePorts[name]?.elements ?? [] {
                let id = NFTElementID(element)
                users[id] = (users[id] ?? elementUsers[id] ?? 0) + 1
                wanted[element.set, default: [:]][id.key] = element
            }
        }
        for name in NFTRenderer.serviceElementSets {
            let have = sets[name]?.elements ?? [:]
            let want = wanted[name] ?? [:]
            let additions = Self.additions(want: want, have: have, into: &tx)
            for (key, element) in (dropped[name] ?? [:]).sorted(by: { $0.key < $1.key })
            where want[key] == nil && have[key] != nil && (users[NFTElementID(element)] ?? 0) <= 0 {
                tx.append(.deleteElement(NFTElement(set: name, key: element.key)))
            }
            tx.append(contentsOf: additions.map(NFTOperation.addElement))
        }
    }
}

extension NFTKernelState {
    /// The elements of `want` the kernel lacks or holds with another value, in key order; a
    /// held element with another value is deleted first (appended to `tx`), since `add element`
    /// does not replace a verdict.
    fileprivate static func additions(
        want: [String: NFTElement], have: [String: String], into tx: inout NFTTransaction
    ) -> [NFTElement] {
        var additions: [NFTElement] = []
        for key in want.keys.sorted() {
            guard let element = want[key] else { continue }
            if let value = have[key] {
                if value == (element.value ?? "") { continue }
                tx.append(.deleteElement(element))
            }
            additions.append(element)
        }
        return additions
    }
}

extension String {
    /// The key fields of a stored element key text.
    fileprivate func splitOn(_ separator: String) -> [Substring] { Substring(self).splitOn(separator) }
}
