import KubeProxyIPTables
import Testing

struct IPTablesRestoreScriptTests {
    @Test func textOmitsEmptySectionsAndEndsTablesWithCommit() {
        let script = IPTablesRestoreScript(sections: [
            .init(table: "nat", commands: [.declareChain(name: "A", policy: nil), .flushChain("A")]),
            .init(table: "filter", commands: []),
        ])
        #expect(script.text == "*nat\n:A - [0:0]\n-F A\nCOMMIT\n")
        #expect(!script.isEmpty)
    }

    @Test func scriptWithoutCommandsIsEmptyText() {
        let script = IPTablesRestoreScript(sections: [.init(table: "nat"), .init(table: "filter")])
        #expect(script.isEmpty)
        #expect(script.text == "")
    }

    @Test func parsesItsOwnText() throws {
        let script = IPTablesRestoreScript(sections: [
            .init(
                table: "nat",
                commands: [
                    .declareChain(name: "A", policy: nil),
                    .append(IPTablesRule(chain: "A", arguments: ["-m", "comment", "--comment", "x y", "-j", "ACCEPT"])),
                ]),
            .init(table: "filter", commands: [.deleteChain("B")]),
        ])
        #expect(try IPTablesRestoreScript(parsing: script.text) == script)
        #expect(script.commands(for: "filter") == [.deleteChain("B")])
    }

    @Test(arguments: [
        ("-A X -j ACCEPT\n", IPTablesError.Kind.outsideTable, 1),
        ("*nat\n-A X -j ACCEPT\n", .missingCommit, 3),
        ("*nat\n# ok\n-Q X\nCOMMIT\n", .malformedCommand, 3),
        ("*nat\n:X\nCOMMIT\n", .malformedChainLine, 2),
        ("*nat\n-A X --comment \"x\nCOMMIT\n", .unterminatedQuote, 2),
    ])
    func rejectsMalformedInputWithLineNumbers(_ text: String, _ kind: IPTablesError.Kind, _ line: Int) {
        do {
            _ = try IPTablesRestoreScript(parsing: text)
            Issue.record("accepted malformed input")
        } catch {
            #expect(error.kind == kind)
            #expect(error.line == line)
        }
    }
}
