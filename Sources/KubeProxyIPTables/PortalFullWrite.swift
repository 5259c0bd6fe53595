/// The `iptables-restore --noflush` input of a full portal write, produced piecewise from the
/// book's rules instead of held as one text (issue #9: at 10k Services the script, the rules'
/// argument lists and their joined lines were about 20 MiB alive at once).
///
/// The text is exactly `UserspacePortalRenderer.restoreScript(desired: book.ruleSet(renderer:),
/// current:).text`: per table (`nat`, then `filter`) the portal chains declared (which with
/// `--noflush` creates a missing chain and flushes an existing one), every rule of the book
/// (service ports sorted by name, each chain in turn), the parent-jump repairs
/// (`JumpReconciler`, usually none), `COMMIT`. Built from the parsed `iptables-save` output
/// only for the jump repairs, so that output can be dropped before writing starts.
public struct PortalFullWrite: Sendable {
    /// The rules to write.
    public let book: PortalRuleBook
    /// The parent-jump repairs per table, from the state read before the write.
    public let jumpRepairs: [String: [IPTablesCommand]]

    /// A full write of `book`, repairing the jumps `current` (the parsed `iptables-save` output
    /// of this family, taken just before) lacks.
    public init(book: PortalRuleBook, current: IPTablesRuleSet) {
        self.book = book
        var repairs: [String: [IPTablesCommand]] = [:]
        for table in PortalChain.tables {
            let commands = JumpReconciler.commands(for: table, current: current)
            if !commands.isEmpty { repairs[table] = commands }
        }
        self.jumpRepairs = repairs
    }

    /// Whether the write also fixes parent jumps (the manager then reads the kernel again on
    /// the next sync to confirm them).
    public var repairsJumps: Bool { !jumpRepairs.isEmpty }

    /// About this many bytes go to `emit` at a time (a line never splits).
    public static let chunkSize = 64 * 1024

    /// Produces the input in order, in pieces of about `chunkSize` bytes each ending with a
    /// newline; what `emit` throws ends the write.
    public func write(_ emit: (String) throws -> Void) rethrows {
        var chunk = ""
        chunk.reserveCapacity(Self.chunkSize + 1024)
        func flushIfFull() throws {
            guard chunk.utf8.count >= Self.chunkSize else { return }
            try emit(chunk)
            chunk.removeAll(keepingCapacity: true)
        }
        let names = book.entries.keys.sorted()
        for table in PortalChain.tables {
            let chains = PortalChain.chains(in: table)
            chunk.append("*\(table)\n")
            for chain in chains {
                IPTablesCommand.declareChain(name: chain.rawValue, policy: nil).write(to: &chunk)
                chunk.append("\n")
            }
            for chain in chains {
                for name in names {
                    for rule in book.entries[name]?.rules ?? [] where rule.chain == chain.rawValue {
                        rule.writeAppend(to: &chunk)
                        chunk.append("\n")
                        try flushIfFull()
                    }
                }
            }
            for command in jumpRepairs[table] ?? [] {
                command.write(to: &chunk)
                chunk.append("\n")
            }
            chunk.append("COMMIT\n")
            try flushIfFull()
        }
        if !chunk.isEmpty { try emit(chunk) }
    }

    /// The whole input as one text (tests, and executors that cannot stream).
    public var text: String {
        var out = ""
        write { out.append($0) }
        return out
    }
}
