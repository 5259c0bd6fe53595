import KubeProxyTesting
import Testing

@testable import KubeProxyIPTables

/// The save parser's byte-level fast paths (a rule tokenized straight into its packed form, a
/// chain declaration split over bytes) give exactly what the general tokenizer and splitter
/// give, or step aside (`nil`) so the general path decides and reports the error.
struct IPTablesSaveFastPathTests {
    /// Rule lines as iptables-save prints them, and the odd ones the general path must keep.
    static let ruleLines = [
        "-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 -j KUBE-SVC-X",
        "[12:3456] -A INPUT -j ACCEPT",
        "-A KUBE-SEP-X -p tcp -m comment --comment ns/a -m tcp -j DNAT --to-destination 10.180.0.1:80",
        "--append OUTPUT   -j   DROP  ",
        "-A X -m comment --comment \"say \\\"hi\\\" \\\\ there\" -j ACCEPT",
        "-A X -m comment --comment \"\" -j ACCEPT",
        "-A X a\"b c\"d -j ACCEPT",
        "-A X \"\"",
        "-A X back\\slash",
        "-A X\t-j\tACCEPT",
        "-A X -m statistic --mode random --probability 0.10000000009 -j KUBE-SEP-Y",
        // Stepped aside: no arguments, non-ASCII, U+001F, an open quote, not an append, a
        // quoted chain with spaces, a counter only.
        "-A X", "-A X -m comment --comment \"caf\u{E9}\" -j ACCEPT", "-A X -j A\u{1F}B", "-A X -m comment --comment \"open",
        "-I X -j ACCEPT", "-A \"a b\" -j ACCEPT", "[1:2]", "-A", "",
    ]

    @Test(arguments: ruleLines)
    func aPackedRuleIsTheGeneralPathsRule(_ line: String) {
        var scratch: [UInt8] = []
        let general = try? IPTablesRuleSet.parseSavedRule(Substring(line), lineNumber: 1, text: Substring(line))
        if let fast = IPTablesRuleSet.packedSavedRule(Substring(line).utf8, scratch: &scratch) {
            #expect(general == fast)
            #expect(fast.arguments == general?.arguments)
            #expect(fast.chain == general?.chain)
        } else {
            // Stepping aside is only for lines the fast path cannot pack.
            let packable = line.utf8.allSatisfy { $0 < 0x80 && $0 != 0x1F } && (general?.arguments.isEmpty == false)
            #expect(!packable || general == nil, "\(line)")
        }
        // Through the entry point the parser uses, the outcome is the general one.
        let viaEntry = try? IPTablesRuleSet.parseSavedRule(Substring(line), lineNumber: 1, text: Substring(line), scratch: &scratch)
        #expect(viaEntry == general)
    }

    /// Random lines over an alphabet of quotes, backslashes, spaces and option words: the fast
    /// path agrees with the general one on every line it accepts and accepts every packable one.
    @Test func randomLinesAgreeWithTheGeneralPath() {
        var random = SeededGenerator(seed: 11)
        let pieces = ["-A", "KUBE-X", "-j", "\"", "\\", " ", "\t", "a", "b c", "[1:2]", "--comment", "\"x y\"", "\u{1F}", "é", ""]
        var scratch: [UInt8] = []
        var accepted = 0
        for _ in 0..<3000 {
            let count = Int.random(in: 1...9, using: &random)
            let head = ["", "-A KUBE-X ", "[1:2] -A C ", "-A \"a", "--append Y\t"].randomElement(using: &random) ?? ""
            let body = (0..<count).map { _ in pieces.randomElement(using: &random) ?? "" }
            let line = head + body.joined(separator: Bool.random(using: &random) ? " " : "")
            let general = try? IPTablesRuleSet.parseSavedRule(Substring(line), lineNumber: 1, text: Substring(line))
            if let fast = IPTablesRuleSet.packedSavedRule(Substring(line).utf8, scratch: &scratch) {
                accepted += 1
                #expect(general == fast, "\(line)")
                #expect(general?.arguments == fast.arguments, "\(line)")
            } else if let general {
                let packable = line.utf8.allSatisfy { $0 < 0x80 && $0 != 0x1F } && !general.arguments.isEmpty
                #expect(!packable, "\(line)")
            }
        }
        #expect(accepted > 500)
    }

    /// Rules go to their chain also when a chain's rules are not printed together (the parser
    /// remembers the previous rule's chain), and a rule for an undeclared chain creates it.
    @Test func interleavedChainsKeepTheirRules() throws {
        let text = "*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j X\n-A B -j Y\n-A A -j Z\n-A C -j W\n-A C -j V\nCOMMIT\n"
        let parsed = try IPTablesRuleSet(parsingSave: text)
        func targets(_ chain: String) -> [String?] { parsed.rules(in: chain, table: "filter").map(\.target) }
        #expect(targets("A") == ["X", "Z"])
        #expect(targets("B") == ["Y"])
        #expect(targets("C") == ["W", "V"])
        #expect(parsed.table(named: "filter")?.chains.map(\.name) == ["A", "B", "C"])
    }

    @Test(arguments: [
        ":KUBE-SERVICES - [0:0]", ":INPUT ACCEPT [12:345]", ":X -", ":X\tDROP", ":X  -  [0:0]  ", ":X - 0:0", ":X", ":X - [0:0] extra",
        ":caf\u{E9} -", ":", ": -",
    ])
    func aByteSplitDeclarationIsTheGeneralPathsDeclaration(_ line: String) {
        let general = try? IPTablesRuleSet.generalChainDeclaration(Substring(line), lineNumber: 1, text: Substring(line))
        if let fast = IPTablesRuleSet.asciiChainDeclaration(Substring(line).utf8) {
            #expect(general == fast)
        } else {
            #expect(general == nil || line.utf8.contains { $0 >= 0x80 }, "\(line)")
        }
    }
}
