import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import Synchronization

/// An `IPTablesExecutor` that keeps real tables in memory.
///
/// `restore` applies `iptables-restore --noflush` input with the kernel's semantics — a
/// declared user chain (`:NAME - [0:0]`) is created or flushed, `-A`/`-I`/`-D`/`-N`/`-F`/`-X`/
/// `-P` act on the named chain, nothing else is touched — and rejects what iptables-restore
/// rejects (unknown chain or jump target, deleting a missing rule, deleting a referenced or
/// non-empty chain, an unterminated table), leaving the tables unchanged: the whole input is
/// one transaction, as with the nft-based iptables. `save` prints the tables the way
/// `iptables-save` does, including its argument order (`-d`/`-p` first, `/32` added) and its
/// re-spellings (MARK, REJECT, `recent`, `statistic`; see `kernelSpelling`), so code under
/// test must parse structurally, exactly as against the real thing.
///
/// Each family starts with empty `filter` and `nat` tables (built-in chains, policy ACCEPT)
/// unless given other contents.
public final class FakeIPTables: IPTablesExecutor, Sendable {
    struct State {
        var tables: [IPFamily: IPTablesRuleSet]
        var restores: [IPFamily: [String]] = [:]
        var saves: [IPFamily: Int] = [:]
        var pendingFailures: [HostError] = []
        var available: Bool
        var version: IPTablesVersion? = IPTablesVersion(components: [1, 8, 9], backend: "nf_tables")
        var versionProbes = 0
    }

    private let state: Mutex<State>

    /// Creates a fake; `initial` replaces the starting tables of the families it names.
    public init(available: Bool = true, initial: [IPFamily: IPTablesRuleSet] = [:]) {
        var tables: [IPFamily: IPTablesRuleSet] = [:]
        for family in IPFamily.allCases {
            tables[family] = initial[family] ?? IPTablesRuleSet(tables: ["filter", "nat"].map(Self.emptyTable))
        }
        state = Mutex(State(tables: tables, available: available))
    }

    /// A table with its built-in chains, policy ACCEPT, no rules.
    static func emptyTable(_ name: String) -> IPTablesTable {
        IPTablesTable(
            name: name, chains: (IPTablesTable.builtinChains(of: name) ?? []).map { IPTablesChain(name: $0, policy: "ACCEPT") })
    }

    // MARK: - Inspection and setup

    /// The current tables of `family`.
    public func ruleSet(family: IPFamily) -> IPTablesRuleSet {
        state.withLock { $0.tables[family] ?? IPTablesRuleSet() }
    }

    /// Replaces the tables of `family`, e.g. to simulate rules another component added.
    public func setRuleSet(_ ruleSet: IPTablesRuleSet, family: IPFamily) {
        state.withLock { $0.tables[family] = ruleSet }
    }

    /// Every input passed to `restore` for `family`, successful or not, in order.
    public func restoreInputs(family: IPFamily) -> [String] {
        state.withLock { $0.restores[family] ?? [] }
    }

    /// How many times `save` was called for `family`.
    public func saveCount(family: IPFamily) -> Int {
        state.withLock { $0.saves[family] ?? 0 }
    }

    /// Makes the next `restore` fail with `error` without applying anything.
    public func failNextRestore(with error: HostError) {
        state.withLock { $0.pendingFailures.append(error) }
    }

    /// Makes the next `restore` fail like `iptables-restore` exiting 1 with `message`, without
    /// applying anything (for tests that cannot name `HostError`).
    public func failNextRestore(message: String) {
        failNextRestore(with: HostError(.exitStatus(1), command: ["iptables-restore", "--noflush"], stderr: message))
    }

    /// Changes what `isAvailable` reports.
    public func setAvailable(_ available: Bool) {
        state.withLock { $0.available = available }
    }

    /// Changes what `version` reports (`nil`: the tools print no version); 1.8.9 by default.
    public func setVersion(_ version: IPTablesVersion?) {
        state.withLock { $0.version = version }
    }

    /// How many times `version` was asked (a backend probes once, at start).
    public var versionProbes: Int { state.withLock { $0.versionProbes } }

    // MARK: - IPTablesExecutor

    public func version(family: IPFamily) async -> IPTablesVersion? {
        state.withLock { state in
            state.versionProbes += 1
            return state.version
        }
    }

    public func isAvailable(family: IPFamily) -> Bool {
        state.withLock { $0.available }
    }

    public func save(family: IPFamily) async throws -> String {
        let ruleSet = state.withLock { state in
            state.saves[family, default: 0] += 1
            return state.tables[family] ?? IPTablesRuleSet()
        }
        return Self.saveText(ruleSet, family: family)
    }

    public func restore(_ input: String, family: IPFamily) async throws {
        try state.withLock { state throws(HostError) in
            state.restores[family, default: []].append(input)
            if !state.pendingFailures.isEmpty { throw state.pendingFailures.removeFirst() }
            var applier = FakeRestoreApplier(ruleSet: state.tables[family] ?? IPTablesRuleSet(), family: family)
            try applier.apply(input)
            state.tables[family] = applier.ruleSet
        }
    }

    /// `ruleSet` printed like iptables-save: banner comments, built-in chains first, then user
    /// chains by name, rules grouped by chain in that order, each in the kernel's spelling
    /// (`kernelSpelling`; `ruleSet(family:)` keeps what was written).
    public static func saveText(_ ruleSet: IPTablesRuleSet, family: IPFamily) -> String {
        let tool = family == .ipv4 ? "iptables-save" : "ip6tables-save"
        var lines: [String] = []
        for table in ruleSet.tables {
            lines.append("# Generated by \(tool) v1.8.9 (FakeIPTables)")
            lines.append("*\(table.name)")
            let ordered = table.chains.filter(\.isBuiltin) + table.chains.filter { !$0.isBuiltin }.sorted { $0.name < $1.name }
            lines += ordered.map(\.declarationLine)
            lines += ordered.flatMap { $0.rules.map { kernelSpelling($0, family: family).description } }
            lines.append("COMMIT")
            lines.append("# Completed by \(tool) (FakeIPTables)")
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }
}

/// Applies restore input to a copy of one family's tables, failing like iptables-restore.
struct FakeRestoreApplier {
    var ruleSet: IPTablesRuleSet
    let family: IPFamily

    static let standardTargets: Set<String> = [
        "ACCEPT", "DROP", "RETURN", "REJECT", "DNAT", "SNAT", "REDIRECT", "MASQUERADE", "MARK", "CONNMARK",
        "LOG", "NOTRACK", "CT", "TPROXY", "QUEUE", "NFQUEUE", "TCPMSS",
    ]

    var command: [String] {
        [family == .ipv4 ? "iptables-restore" : "ip6tables-restore", "--noflush"]
    }

    func failure(_ lineNumber: Int, _ message: String, status: Int32 = 1) -> HostError {
        HostError(.exitStatus(status), command: command, stderr: "\(command[0]): line \(lineNumber) failed: \(message)")
    }

    /// Applies every line; on the first error throws and the caller keeps its old tables.
    mutating func apply(_ input: String) throws(HostError) {
        var table: String?
        var lineNumber = 0
        for raw in input.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("*") {
                guard table == nil else { throw failure(lineNumber, "COMMIT expected before new table") }
                let name = String(line.dropFirst())
                guard IPTablesTable.builtinChains(of: name) != nil else {
                    throw failure(lineNumber, "can't initialize iptables table `\(name)': Table does not exist", status: 2)
                }
                if ruleSet.table(named: name) == nil { ruleSet.tables.append(FakeIPTables.emptyTable(name)) }
                table = name
                continue
            }
            guard let current = table else { throw failure(lineNumber, "no table specified", status: 2) }
            if line.trimmingSuffixSpace() == "COMMIT" {
                table = nil
                continue
            }
            guard let parsed = IPTablesCommand(line: line) else {
                throw failure(lineNumber, "Bad argument `\(line)'", status: 2)
            }
            try execute(parsed, table: current, line: lineNumber)
        }
        if table != nil { throw failure(lineNumber, "COMMIT expected at line \(lineNumber + 1)") }
    }

    mutating func execute(_ command: IPTablesCommand, table: String, line: Int) throws(HostError) {
        guard let tableIndex = ruleSet.tables.firstIndex(where: { $0.name == table }) else { return }
        // Moved out, not copied: with the set still holding the table, every append would copy
        // the whole chain, making a 20k-line restore quadratic. Put back on every exit.
        var t = ruleSet.tables[tableIndex]
        ruleSet.tables[tableIndex] = IPTablesTable(name: table)
        defer { ruleSet.tables[tableIndex] = t }
        let builtins = IPTablesTable.builtinChains(of: table) ?? []
        switch command {
        case .declareChain(let name, let policy):
            if builtins.contains(name) {
                guard let policy, policy == "ACCEPT" || policy == "DROP", let index = t.chainIndex(named: name) else {
                    throw failure(line, "Bad built-in chain policy for \(name)")
                }
                t.chains[index].policy = policy
            } else {
                guard policy == nil else { throw failure(line, "Can't set policy `\(policy ?? "")' on `\(name)'") }
                if let index = t.chainIndex(named: name) { t.chains[index].rules = [] } else { t.chains.append(IPTablesChain(name: name)) }
            }
        case .append(let rule):
            let index = try existingChain(t, rule.chain, line: line)
            try checkTarget(rule, in: t, builtins: builtins, line: line)
            t.chains[index].rules.append(rule.saveOrdered)
        case .insert(let rule, let position):
            let index = try existingChain(t, rule.chain, line: line)
            try checkTarget(rule, in: t, builtins: builtins, line: line)
            guard position >= 1, position <= t.chains[index].rules.count + 1 else { throw failure(line, "Index of insertion too big.") }
            t.chains[index].rules.insert(rule.saveOrdered, at: position - 1)
        case .delete(let rule):
            let index = try existingChain(t, rule.chain, line: line)
            let wanted = rule.saveOrdered.arguments
            guard let at = t.chains[index].rules.firstIndex(where: { $0.saveOrdered.arguments == wanted }) else {
                throw failure(line, "Bad rule (does a matching rule exist in that chain?).")
            }
            t.chains[index].rules.remove(at: at)
        case .deleteNumber(let chain, let number):
            let index = try existingChain(t, chain, line: line)
            guard number >= 1, number <= t.chains[index].rules.count else { throw failure(line, "Index of deletion too big.") }
            t.chains[index].rules.remove(at: number - 1)
        case .newChain(let chain):
            guard t.chainIndex(named: chain) == nil else { throw failure(line, "Chain already exists.") }
            t.chains.append(IPTablesChain(name: chain))
        case .flushChain(let chain):
            let index = try existingChain(t, chain, line: line)
            t.chains[index].rules = []
        case .deleteChain(let chain):
            let index = try existingChain(t, chain, line: line)
            guard !builtins.contains(chain) else { throw failure(line, "Can't delete built-in chain \(chain).") }
            guard t.chains[index].rules.isEmpty else { throw failure(line, "Directory not empty.", status: 4) }
            guard !t.rules.contains(where: { $0.target == chain }) else {
                throw failure(line, "CHAIN_DEL failed (Device or resource busy): chain \(chain)", status: 4)
            }
            t.chains.remove(at: index)
        case .setPolicy(let chain, let policy):
            let index = try existingChain(t, chain, line: line)
            guard builtins.contains(chain), policy == "ACCEPT" || policy == "DROP" else { throw failure(line, "Bad policy name.") }
            t.chains[index].policy = policy
        }
    }

    func existingChain(_ table: IPTablesTable, _ chain: String, line: Int) throws(HostError) -> Int {
        guard let index = table.chainIndex(named: chain) else { throw failure(line, "No chain/target/match by that name.") }
        return index
    }

    func checkTarget(_ rule: IPTablesRule, in table: IPTablesTable, builtins: [String], line: Int) throws(HostError) {
        guard let target = rule.target else { return }
        if Self.standardTargets.contains(target) { return }
        guard table.chainIndex(named: target) != nil, !builtins.contains(target) else {
            throw failure(line, "No chain/target/match by that name.")
        }
    }
}

extension StringProtocol {
    fileprivate func trimmingSuffixSpace() -> SubSequence {
        var s = self[...]
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return s
    }
}

extension FakeIPTables {
    /// Violations of upstream's jump-consistency invariant (`checkIPTablesRuleJumps`, spec §2.9)
    /// in the current tables of `family`; empty when they hold.
    ///
    /// See `jumpConsistencyProblems(in:)`.
    public func jumpConsistencyProblems(family: IPFamily) -> [String] {
        Self.jumpConsistencyProblems(in: ruleSet(family: family))
    }

    /// Violations of the jump-consistency invariant in `ruleSet`, one line each:
    /// - every chain a rule jumps to (`-j`/`-g`, other than a standard target) is declared;
    /// - every chain jumped to from a user chain has at least one rule, except
    ///   `KUBE-NODEPORTS` (nat `KUBE-SERVICES` always jumps there, NodePorts or not);
    /// - every per-service chain (`KUBE-SVC/SVL/EXT/FW/SEP-…`) is jumped to by some rule.
    ///
    /// Checked on the state after a restore rather than on the restore text, so it also
    /// catches what a partial restore leaves behind (a stale chain not deleted, a kept chain
    /// pointing at a deleted one).
    public static func jumpConsistencyProblems(in ruleSet: IPTablesRuleSet) -> [String] {
        var problems: [String] = []
        for table in ruleSet.tables {
            let declared = Set(table.chains.map(\.name))
            let filled = Set(table.chains.filter { !$0.rules.isEmpty }.map(\.name))
            let builtins = Set(IPTablesTable.builtinChains(of: table.name) ?? [])
            var jumped = Set<String>()
            var jumpedFromUserChains = Set<String>()
            for rule in table.rules {
                guard let target = rule.target, !FakeRestoreApplier.standardTargets.contains(target) else { continue }
                jumped.insert(target)
                if !builtins.contains(rule.chain) { jumpedFromUserChains.insert(target) }
            }
            for chain in jumped.subtracting(declared).sorted() {
                problems.append("\(table.name): \(chain) is jumped to but not declared")
            }
            // Jumps from built-in chains into an empty top-level chain are fine (a node without
            // services has an empty filter KUBE-SERVICES); upstream checks the restore text,
            // which holds no built-in chains.
            for chain in jumpedFromUserChains.intersection(declared).subtracting(filled).sorted() where chain != "KUBE-NODEPORTS" {
                problems.append("\(table.name): \(chain) is jumped to but has no rules")
            }
            for chain in declared.subtracting(jumped).sorted() where IPTablesModeChain.isServiceChain(chain) {
                problems.append("\(table.name): \(chain) is declared but nothing jumps to it")
            }
        }
        return problems
    }
}
