import KubeProxyIPTables
import Testing

/// Inputs the `iptables-save` fuzz target (Fuzz/Sources/fuzz-iptables-save) found, kept so the
/// fixes stay fixed. The target's property: text that parses renders back to text that parses to
/// the same rule set.
struct IPTablesSaveFuzzRegressionTests {
    /// The found input, minimised: a quoted chain name with spaces was accepted, but its
    /// `:NAME - [0:0]` declaration cannot carry spaces, so the rendered text no longer parsed.
    @Test(arguments: [
        "*nat\n-A \"KUBE-PORTALS-HO\\\\quoted\\\" \\\\ back\" -j DNAT\nCOMMIT\n",
        "*nat\n-A \"a b\" -j ACCEPT\nCOMMIT\n",
        "*nat\n-A \"\" -j ACCEPT\nCOMMIT\n",
        "*filter\n[0:0] --append \"\tX\" -j DROP\nCOMMIT\n",
    ])
    func chainNamesIptablesCannotHaveAreRejected(_ text: String) {
        do {
            let set = try IPTablesRuleSet(parsingSave: text)
            Issue.record("accepted \(set.tables.first?.chains.map(\.name) ?? [])")
        } catch {
            #expect(error.kind == .malformedCommand)
            #expect(error.line == 2)
        }
    }

    @Test func renderedRuleSetsParseBackToTheSameSet() throws {
        let texts = [
            IPTablesRuleSetTests.sample,
            "*nat\n-A X -m comment --comment \"a \\\"b\\\" \\\\ c\" -j Y\n:X - [0:0]\n:X ACCEPT\nCOMMIT\n",
            "*filter\n:a\"b - [0:0]\n-A \"a\\\"b\" -j \"#\"\nCOMMIT\n",
        ]
        for text in texts {
            let set = try IPTablesRuleSet(parsingSave: text)
            #expect(try IPTablesRuleSet(parsingSave: set.text) == set, "\(text)")
        }
    }

    /// Found input: a combining mark (U+0597) at the start of an argument fused with the opening
    /// quote `join` put before it into one Character, so `split` no longer saw the quote.
    @Test func argumentsStartingWithACombiningMarkRoundTrip() {
        let arguments = ["\u{0597}:#", "Gen", "a\u{0301}\"", " \u{0301}"]
        #expect(IPTablesTokenizer.split(IPTablesTokenizer.join(arguments)) == arguments)
    }

    /// The same at line level: a chain whose name starts with a combining mark is declared as
    /// `:` plus that mark, which must still read as a declaration.
    @Test func chainNameStartingWithACombiningMarkRoundTrips() throws {
        let set = try IPTablesRuleSet(parsingSave: "*nat\n-A \"\u{0597}X\" -j Y\nCOMMIT\n")
        #expect(set.table(named: "nat")?.chains.map(\.name) == ["\u{0597}X"])
        #expect(try IPTablesRuleSet(parsingSave: set.text) == set)
    }

    /// `\r\n` is a single Character in Swift: splitting on "\n" left CRLF text as one line, so
    /// the first table never saw its `COMMIT`.
    @Test func crlfLineEndingsParseLikeLF() throws {
        let lf = "*nat\n:X - [0:0]\n-A X -p tcp -j ACCEPT\nCOMMIT\n"
        let crlf = "*nat\r\n:X - [0:0]\r\n-A X -p tcp -j ACCEPT\r\nCOMMIT\r\n"
        #expect(try IPTablesRuleSet(parsingSave: crlf) == IPTablesRuleSet(parsingSave: lf))
    }
}
