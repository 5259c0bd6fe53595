import KubeProxyIPTables
import Testing

struct IPTablesCommandTests {
    static let rule = IPTablesRule(chain: "PREROUTING", arguments: ["-m", "comment", "--comment", "a b", "-j", "X"])

    @Test(arguments: [
        (":KUBE-PORTALS-HOST - [0:0]", IPTablesCommand.declareChain(name: "KUBE-PORTALS-HOST", policy: nil)),
        (":INPUT DROP [5:10]", .declareChain(name: "INPUT", policy: "DROP")),
        (#"-A PREROUTING -m comment --comment "a b" -j X"#, .append(rule)),
        (#"-I PREROUTING 1 -m comment --comment "a b" -j X"#, .insert(rule, position: 1)),
        (#"-I PREROUTING -m comment --comment "a b" -j X"#, .insert(rule, position: 1)),
        (#"-D PREROUTING -m comment --comment "a b" -j X"#, .delete(rule)),
        ("-D PREROUTING 3", .deleteNumber(chain: "PREROUTING", number: 3)),
        ("-N MINE", .newChain("MINE")),
        ("-F MINE", .flushChain("MINE")),
        ("-X MINE", .deleteChain("MINE")),
        ("-P INPUT DROP", .setPolicy(chain: "INPUT", policy: "DROP")),
        ("[3:180] -A PREROUTING -m comment --comment \"a b\" -j X", .append(rule)),
    ])
    func parsesRestoreLines(_ line: String, _ expected: IPTablesCommand) {
        #expect(IPTablesCommand(line: line) == expected)
    }

    @Test(arguments: ["-Z PREROUTING", "-A", "-N A B", "-X", ":", "-A X --comment \"open", "COMMIT"])
    func rejectsWhatItDoesNotModel(_ line: String) {
        #expect(IPTablesCommand(line: line) == nil)
    }

    @Test func linesAreTheRestoreSpelling() {
        #expect(IPTablesCommand.insert(Self.rule, position: 1).line == #"-I PREROUTING 1 -m comment --comment "a b" -j X"#)
        #expect(IPTablesCommand.declareChain(name: "C", policy: nil).line == ":C - [0:0]")
        #expect(IPTablesCommand.deleteNumber(chain: "C", number: 2).line == "-D C 2")
    }

    @Test func everyCommandRoundTripsThroughItsLine() {
        let commands: [IPTablesCommand] = [
            .declareChain(name: "C", policy: nil), .declareChain(name: "INPUT", policy: "ACCEPT"), .append(Self.rule),
            .insert(Self.rule, position: 4), .delete(Self.rule), .deleteNumber(chain: "C", number: 9), .newChain("C"),
            .flushChain("C"), .deleteChain("C"), .setPolicy(chain: "FORWARD", policy: "DROP"),
        ]
        for command in commands {
            #expect(IPTablesCommand(line: command.line) == command, "\(command.line)")
        }
    }

    /// `write(to:)` (how restore text is built) writes exactly `line` for every command kind,
    /// including arguments that need quotes: empty, spaces, tabs, quotes, `#`, non-ASCII space.
    @Test func writeMatchesLine() {
        let awkward = IPTablesRule(
            chain: "KUBE-SVC-X",
            arguments: [
                "-m", "comment", "--comment", "ns/svc:p", "-s", "", "--x", "a\tb", "--y", #"q"uote"#, "--z", "#hash",
                "--w", "no\u{00A0}break", "--v", #"back\slash"#, "-j", "KUBE-SEP-Y",
            ])
        let commands: [IPTablesCommand] = [
            .declareChain(name: "KUBE-SVC-X", policy: nil), .declareChain(name: "INPUT", policy: "DROP"), .append(awkward),
            .append(Self.rule), .insert(awkward, position: 2), .delete(awkward), .deleteNumber(chain: "X", number: 3),
            .newChain("X"), .flushChain("X"), .deleteChain("X"), .setPolicy(chain: "INPUT", policy: "ACCEPT"),
        ]
        for command in commands {
            var out = ""
            command.write(to: &out)
            #expect(out == command.line)
        }
    }
}
