/// `iptables-restore --noflush` input as a value: per table, an ordered list of commands.
///
/// Everything the proxy changes in the kernel goes through one of these, so one sync is one
/// atomic `iptables-restore` call and tests can assert the exact commands (or apply them to a
/// fake) before any text exists. Sections without commands are left out of `text`, so an
/// empty script means "nothing to do" and need not be run at all.
public struct IPTablesRestoreScript: Hashable, Sendable {
    /// The commands for one table, ended by `COMMIT` in text form.
    public struct Section: Hashable, Sendable {
        /// The table name (`nat`, `filter`).
        public var table: String
        /// The commands in order.
        public var commands: [IPTablesCommand]

        /// Creates a section.
        public init(table: String, commands: [IPTablesCommand] = []) {
            self.table = table
            self.commands = commands
        }
    }

    /// The sections in order.
    public var sections: [Section]

    /// Creates a script.
    public init(sections: [Section] = []) {
        self.sections = sections
    }

    /// Whether no section has a command (running it would change nothing).
    public var isEmpty: Bool { sections.allSatisfy(\.commands.isEmpty) }

    /// The commands of `table`, across all its sections.
    public func commands(for table: String) -> [IPTablesCommand] {
        sections.filter { $0.table == table }.flatMap(\.commands)
    }

    /// The restore input: `*table`, one line per command, `COMMIT`; empty sections omitted.
    public var text: String {
        // One growing string: no array of 400k line strings next to it at 10k Services.
        var out = ""
        for section in sections where !section.commands.isEmpty {
            out.append("*")
            out.append(section.table)
            out.append("\n")
            for command in section.commands {
                command.write(to: &out)
                out.append("\n")
            }
            out.append("COMMIT\n")
        }
        return out
    }

    /// Parses restore input, as `iptables-restore` reads it: `#` and blank lines are ignored,
    /// every command must sit between `*table` and `COMMIT`.
    public init(parsing text: String) throws(IPTablesError) {
        self.init()
        var current: Section?
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingLineSpace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("*") {
                guard current == nil else { throw IPTablesError(.missingCommit, line: lineNumber, text: String(rawLine)) }
                guard line.count > 1 else { throw IPTablesError(.malformedTableLine, line: lineNumber, text: String(rawLine)) }
                current = Section(table: String(line.dropFirst()))
                continue
            }
            guard var section = current else { throw IPTablesError(.outsideTable, line: lineNumber, text: String(rawLine)) }
            if line == "COMMIT" {
                sections.append(section)
                current = nil
                continue
            }
            if IPTablesTokenizer.split(line) == nil {
                throw IPTablesError(.unterminatedQuote, line: lineNumber, text: String(rawLine))
            }
            guard let command = IPTablesCommand(line: line) else {
                throw IPTablesError(
                    line.hasPrefix(":") ? .malformedChainLine : .malformedCommand, line: lineNumber, text: String(rawLine))
            }
            section.commands.append(command)
            current = section
        }
        if current != nil { throw IPTablesError(.missingCommit, line: lineNumber, text: "") }
    }
}
