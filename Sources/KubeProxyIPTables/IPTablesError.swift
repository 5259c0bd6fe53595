/// Why iptables text could not be read or a command could not be applied.
///
/// The one error type of this module. It always carries the 1-based line number and the line
/// itself, because the text it refers to is usually a few hundred lines long and an operator
/// must be able to find the offending rule without re-running anything.
public struct IPTablesError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem was found.
    public enum Kind: Hashable, Sendable {
        /// A quote was opened and never closed.
        case unterminatedQuote
        /// A rule or chain line appeared before any `*table` line.
        case outsideTable
        /// A table was not closed by `COMMIT` before the next table or the end of input.
        case missingCommit
        /// A `:CHAIN POLICY [p:b]` line that does not have that shape.
        case malformedChainLine
        /// A command (`-A`, `-I`, …) that is unknown, lacks its chain or arguments, or names a chain
        /// iptables could not have (empty, or containing whitespace).
        case malformedCommand
        /// `*name` with an empty table name.
        case malformedTableLine
    }

    /// What kind of problem was found.
    public var kind: Kind
    /// 1-based line number in the parsed text.
    public var line: Int
    /// The offending line, verbatim.
    public var text: String

    /// Creates an error for `line` of the input.
    public init(_ kind: Kind, line: Int, text: String) {
        self.kind = kind
        self.line = line
        self.text = text
    }

    public var description: String { "iptables text line \(line): \(kind): \(text)" }
}
