import KubeProxyCore

/// What one sync writes: an optional clean-up transaction (deleting chains that have been stale
/// long enough), run first and on its own so its failure cannot block the sync, then the main
/// transaction.
public struct NFTSyncPlan: Hashable, Sendable {
    /// `delete chain` for chains flushed at least `NFTKernelState.staleChainDelay` ago.
    public var cleanup: NFTTransaction
    /// Everything else, atomically: skeleton (full syncs), changed chains, element changes,
    /// flushes of newly stale chains, deletion of unused affinity sets.
    public var main: NFTTransaction
    /// The stale-chain bookkeeping once `main` has succeeded.
    public var staleSinceAfterMain: [String: Duration]
    /// Whether this was planned as a full sync.
    public var full: Bool
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
        var desiredChains = Set(ruleset.chains.map(\.name))
        for port in ruleset.servicePorts { desiredChains.formUnion(port.chains.map(\.name)) }

        // Clean-up: chains stale for long enough and still unused.
        var cleanup = NFTTransaction(family: family, table: table)
        var staleAfter: [String: Duration] = [:]
        for (name, since) in staleSince.sorted(by: { $0.key < $1.key }) where !desiredChains.contains(name) && chains[name] != nil {
            if now - since >= Self.staleChainDelay {
                cleanup.append(.deleteChain(name))
            } else {
                staleAfter[name] = since
            }
        }

        var main = NFTTransaction(family: family, table: table)
        writeSkeleton(ruleset, full: full, into: &main)
        writeServicePorts(ruleset, changed: changed, full: full, into: &main)
        writeElements(ruleset, into: &main)

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
        for port in ruleset.servicePorts { desiredSets.formUnion(port.affinitySets.map(\.name)) }
        for name in sets.keys.sorted() where NFTChainNames.isAffinitySet(name) && !desiredSets.contains(name) {
            main.append(.deleteSet(name, sets[name]?.kind ?? .set))
        }
        return NFTSyncPlan(cleanup: cleanup, main: main, staleSinceAfterMain: staleAfter, full: full)
    }

    /// Records a clean-up transaction that succeeded.
    public mutating func commitCleanup(_ plan: NFTSyncPlan) {
        apply(plan.cleanup)
    }

    /// Records a main transaction that succeeded.
    public mutating func commitMain(_ plan: NFTSyncPlan) {
        apply(plan.main)
        staleSince = plan.staleSinceAfterMain
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

    private func writeServicePorts(_ ruleset: NFTRuleset, changed: Set<ServicePortName>, full: Bool, into tx: inout NFTTransaction) {
        var rewrite: [NFTChainContent] = []
        for port in ruleset.servicePorts {
            let portChanged = changed.contains(port.name)
            for set in port.affinitySets where full || portChanged || sets[set.name] == nil {
                tx.append(.addSet(set))
            }
            for chain in port.chains where mustWrite(chain, portChanged: portChanged, full: full) {
                rewrite.append(chain)
            }
        }
        for chain in rewrite { tx.append(.addChain(chain.chain)) }
        for chain in rewrite {
            tx.append(.flushChain(chain.name))
            tx.append(contentsOf: chain.rules.map(NFTOperation.addRule))
        }
    }

    /// Whether a per-service chain has to be (re)written. On a full sync (start-up: every
    /// service port is new to the loop) an endpoint chain the kernel already holds is kept when
    /// it matches: its rules follow from its name, affinity and protocol, and the rule count
    /// tells an affinity chain from a plain one.
    private func mustWrite(_ chain: NFTChainContent, portChanged: Bool, full: Bool) -> Bool {
        guard let have = chains[chain.name], staleSince[chain.name] == nil else { return true }
        let matches = have.digest.map { $0 == chain.digest } ?? (chain.isEndpoint && have.ruleCount == chain.rules.count)
        if chain.isEndpoint && full { return !matches }
        if portChanged || full { return true }
        return !matches
    }

    private func writeElements(_ ruleset: NFTRuleset, into tx: inout NFTTransaction) {
        var wanted: [String: [String: NFTElement]] = [:]
        for port in ruleset.servicePorts {
            for element in port.elements { wanted[element.set, default: [:]][element.keyText] = element }
        }
        for name in NFTRenderer.serviceElementSets {
            let have = sets[name]?.elements ?? [:]
            let want = wanted[name] ?? [:]
            var additions: [NFTElement] = []
            for key in want.keys.sorted() {
                guard let element = want[key] else { continue }
                if let value = have[key] {
                    if value == (element.value ?? "") { continue }
                    tx.append(.deleteElement(element))
                }
                additions.append(element)
            }
            for key in have.keys.sorted() where want[key] == nil {
                tx.append(.deleteElement(NFTElement(set: name, key: key.splitOn(" . ").map(String.init))))
            }
            tx.append(contentsOf: additions.map(NFTOperation.addElement))
        }
    }
}

extension String {
    /// The key fields of a stored element key text.
    fileprivate func splitOn(_ separator: String) -> [Substring] { Substring(self).splitOn(separator) }
}
