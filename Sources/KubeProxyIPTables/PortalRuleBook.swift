import KubeProxyCore

/// The rendered portal rules of every service port, kept between syncs so a sync renders,
/// compares and writes only the service ports that changed (issue #9).
///
/// Why per service port: every portal rule belongs to exactly one service port (its comment is
/// `ns/name:port`) and depends only on that port's `PortalServicePort` (cluster IP, ports,
/// external and LB IPs, NodePort, proxy port) and the renderer. So when the kernel holds the
/// rules of the book, the rules for new input are the book's rules with the changed ports'
/// rules swapped — which `update(to:renderer:)` turns into `-D` lines (the exact old rule) and
/// `-A` lines, never a chain declaration: with `iptables-restore --noflush`, `:CHAIN - [0:0]`
/// flushes an existing chain. An unchanged input renders nothing and yields an empty script.
///
/// Rule order across service ports is therefore not the render's sorted order (a changed
/// port's rules move to the end of their chains). That is harmless: different service ports'
/// rules match different destinations, and upstream appended in no particular order either.
/// Comparisons with the kernel (`isSatisfied(by:)`) and with `render(_:)` count rules per
/// chain, ignoring that order.
public struct PortalRuleBook: Hashable, Sendable {
    /// One service port's input and the rules rendered for it, in render order.
    public struct Entry: Hashable, Sendable {
        /// What the rules were rendered from.
        public var port: PortalServicePort
        /// The rules, each with its chain.
        public var rules: [PortalRule]
    }

    /// The entries by service port name.
    public private(set) var entries: [ServicePortName: Entry] = [:]

    /// An empty book (no rules known).
    public init() {}

    /// `ports` keyed by service port name; a name given twice keeps its last port, as the
    /// book can hold only one entry per name.
    public static func keyed(_ ports: [PortalServicePort]) -> [ServicePortName: PortalServicePort] {
        Dictionary(ports.map { ($0.servicePort.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// Moves the book to `ports`, re-rendering only entries whose input changed, and returns
    /// the `--noflush` commands that take the kernel from the old book's rules to the new
    /// one's: per table the deletions (exact old rules), then the appends. Empty when no rule
    /// changed, e.g. when only endpoints changed (they are not part of the input).
    ///
    /// The commands are only right while the kernel holds exactly the old book's rules; the
    /// caller keeps track of that and falls back to a full write otherwise.
    public mutating func update(
        to ports: [ServicePortName: PortalServicePort], renderer: UserspacePortalRenderer
    ) -> IPTablesRestoreScript {
        update(Set(entries.keys).union(ports.keys), in: ports, renderer: renderer)
    }

    /// Moves the book to `ports` like `update(to:renderer:)` but without the commands, for a
    /// full write (`PortalFullWrite`), which rewrites the chains whole: at the first sync every
    /// rule is new, and the commands for them would be the largest allocation of the start.
    public mutating func load(_ ports: [ServicePortName: PortalServicePort], renderer: UserspacePortalRenderer) {
        // Names first: removing while iterating `entries.keys` would copy the dictionary.
        for name in entries.keys.filter({ ports[$0] == nil }) { entries[name] = nil }
        entries.reserveCapacity(ports.count)
        for (name, port) in ports where entries[name]?.port != port {
            entries[name] = Entry(port: port, rules: renderer.portalRules(for: port))
        }
    }

    /// `update(to:renderer:)` when only the entries named in `names` can differ: each of them
    /// moves to its port in `ports` (absent: removed), every other entry stays as it is, so
    /// the cost is that of the change, not of the whole book.
    public mutating func update(
        _ names: some Sequence<ServicePortName>, in ports: [ServicePortName: PortalServicePort],
        renderer: UserspacePortalRenderer
    ) -> IPTablesRestoreScript {
        var deletions: [PortalRule] = []
        var additions: [PortalRule] = []
        for name in names {
            let old = entries[name]
            guard let port = ports[name] else {
                if let old {
                    deletions += old.rules
                    entries[name] = nil
                }
                continue
            }
            if old?.port == port { continue }
            let rules = renderer.portalRules(for: port)
            entries[name] = Entry(port: port, rules: rules)
            let (removed, added) = Self.difference(old: old?.rules ?? [], new: rules)
            deletions += removed
            additions += added
        }
        return Self.script(deletions: deletions, additions: additions)
    }

    /// The rules to delete and to add, as multisets, keeping each side's order.
    static func difference(old: [PortalRule], new: [PortalRule]) -> (removed: [PortalRule], added: [PortalRule]) {
        if old == new { return ([], []) }
        var kept: [PortalRule: Int] = [:]
        for rule in new { kept[rule, default: 0] += 1 }
        var removed: [PortalRule] = []
        for rule in old {
            if let count = kept[rule], count > 0 { kept[rule] = count - 1 } else { removed.append(rule) }
        }
        var unmatched: [PortalRule: Int] = [:]
        for rule in old { unmatched[rule, default: 0] += 1 }
        var added: [PortalRule] = []
        for rule in new {
            if let count = unmatched[rule], count > 0 { unmatched[rule] = count - 1 } else { added.append(rule) }
        }
        return (removed, added)
    }

    /// Deletions then appends, per portal table in restore order; sections without commands
    /// are dropped so "nothing changed" is an empty script.
    static func script(deletions: [PortalRule], additions: [PortalRule]) -> IPTablesRestoreScript {
        var script = IPTablesRestoreScript()
        for table in PortalChain.tables {
            let inTable = { (rule: PortalRule) in PortalChain(rawValue: rule.chain)?.table == table }
            let commands: [IPTablesCommand] =
                deletions.filter(inTable).map { .delete($0.rule) } + additions.filter(inTable).map { .append($0.rule) }
            if !commands.isEmpty { script.sections.append(IPTablesRestoreScript.Section(table: table, commands: commands)) }
        }
        return script
    }

    /// The five chains with every rule of the book, service ports sorted by name: the same
    /// rule set `UserspacePortalRenderer.render(_:)` gives for the book's ports, without
    /// rendering anything again. What a full rewrite writes.
    public func ruleSet(renderer: UserspacePortalRenderer) -> IPTablesRuleSet {
        var ruleSet = renderer.skeleton()
        for name in entries.keys.sorted() {
            for rule in entries[name]?.rules ?? [] {
                guard let chain = PortalChain(rawValue: rule.chain) else { continue }
                ruleSet.append(rule.rule, in: chain.table)
            }
        }
        return ruleSet
    }

    /// How many times each rule occurs, over all chains (a rule carries its chain).
    public var ruleCounts: [PortalRule: Int] {
        var counts: [PortalRule: Int] = [:]
        for entry in entries.values {
            for rule in entry.rules { counts[rule, default: 0] += 1 }
        }
        return counts
    }

    /// Whether `current` (a parsed `iptables-save`) has all five chains holding exactly the
    /// book's rules, in any order and nothing else, and all parent jumps in place — so a full
    /// sync may skip writing. Linear in the number of rules: each kernel rule is recognised
    /// once and counted off, nothing is rendered or sorted.
    public func isSatisfied(by current: IPTablesRuleSet) -> Bool {
        let state = PortalState(current)
        guard state.unrecognized.isEmpty, state.chains.count == PortalChain.allCases.count else { return false }
        var counts = ruleCounts
        for rules in state.chains.values {
            for rule in rules {
                guard let count = counts[rule], count > 0 else { return false }
                counts[rule] = count - 1
            }
        }
        return counts.values.allSatisfy { $0 == 0 } && JumpReconciler.script(current: current).isEmpty
    }
}
