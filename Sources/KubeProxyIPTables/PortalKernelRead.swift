/// What a full sync needs from `iptables-save`, read without keeping the portal chains' rules:
/// whether those chains hold exactly a book's rules, and everything else parsed (issue #9: the
/// parsed save of 10k Services' portal rules, their recognised forms and the counts, all alive
/// at once, raised the periodic full sync's peak by about 30 MiB).
///
/// Each rule line of a portal chain (in that chain's table) is parsed, recognised and counted off
/// the book's rule counts on its own, then dropped; every other line is parsed into `others`
/// (the portal chains appear there declared but empty), which is all that the jump repairs
/// (`JumpReconciler`, built-in chains) and `PortalFullWrite` look at. The verdict is
/// `PortalRuleBook.isSatisfied(by:)`'s on the whole parse: all five chains exist, every rule in
/// them is recognised and counted exactly, and every parent jump is in place.
public struct PortalKernelRead: Sendable {
    /// The save without the portal chains' rules.
    public let others: IPTablesRuleSet
    /// Whether the kernel already holds exactly the book's rules and the jumps (no write needed).
    public let isSatisfied: Bool

    /// Reads `text` (`iptables-save` output of one family) against `book`. Throws what
    /// `IPTablesRuleSet(parsingSave:)` throws, with the line numbers of `text`.
    public init(parsingSave text: String, book: PortalRuleBook) throws(IPTablesError) {
        var counts = book.ruleCounts
        var matches = true
        var othersText = ""
        var table: Substring?
        var lineNumber = 0
        // Split as `IPTablesRuleSet(parsingSave:)` splits, so line numbers agree.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = rawLine.trimmingLineSpace()
            if line.hasPrefix("*") {
                table = line.dropFirst()
            } else if line == "COMMIT" {
                table = nil
            } else if let table, let chain = Self.ruleChain(line), let portal = PortalChain(rawValue: chain),
                portal.table == table
            {
                let rule = try IPTablesRuleSet.parseSavedRule(line, lineNumber: lineNumber, text: rawLine)
                if matches, let recognised = PortalRule(rule), let count = counts[recognised], count > 0 {
                    counts[recognised] = count - 1
                } else {
                    matches = false
                }
                // An empty line keeps the line numbers of `others`' errors those of `text`.
                othersText.append("\n")
                continue
            }
            othersText.append(contentsOf: rawLine)
            othersText.append("\n")
        }
        let others = try IPTablesRuleSet(parsingSave: othersText)
        self.others = others
        self.isSatisfied =
            matches && counts.values.allSatisfy { $0 == 0 }
            && PortalChain.allCases.allSatisfy { others.chain($0.rawValue, in: $0.table) != nil }
            && JumpReconciler.script(current: others).isEmpty
    }

    /// The chain of a rule line (`[p:b] -A CHAIN …`), `nil` for other lines.
    static func ruleChain(_ line: Substring) -> String? {
        var fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)[...]
        if let first = fields.first, first.hasPrefix("[") { fields = fields.dropFirst() }
        guard fields.count >= 2, fields.first == "-A" || fields.first == "--append" else { return nil }
        return String(fields[fields.startIndex + 1])
    }
}
