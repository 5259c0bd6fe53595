import KubeProxyIPTables
import Testing

struct IPTablesTokenizerTests {
    @Test func splitsOnWhitespaceAndKeepsQuotedSpaces() {
        let words = IPTablesTokenizer.split(#"-A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: x"  -j KUBE-PORTALS-CONTAINER"#)
        #expect(words == ["-A", "PREROUTING", "-m", "comment", "--comment", "handle ClusterIPs; NOTE: x", "-j", "KUBE-PORTALS-CONTAINER"])
    }

    @Test func backslashEscapesInsideQuotes() {
        let words = IPTablesTokenizer.split(#"--comment "say \"hi\" \\ ok" -j ACCEPT"#)
        #expect(words == ["--comment", #"say "hi" \ ok"#, "-j", "ACCEPT"])
    }

    @Test func quotedPiecesJoinWithNeighbours() {
        #expect(IPTablesTokenizer.split(#"a"b c"d "" e"#) == ["ab cd", "", "e"])
    }

    @Test func unterminatedQuoteIsRejected() {
        #expect(IPTablesTokenizer.split(#"-A X --comment "open"#) == nil)
    }

    @Test func joinAlwaysQuotesCommentsLikeIptablesSave() {
        #expect(
            IPTablesTokenizer.join(["-m", "comment", "--comment", "ns/svc:http", "-j", "ACCEPT"])
                == #"-m comment --comment "ns/svc:http" -j ACCEPT"#)
    }

    @Test(arguments: [
        ["-A", "X", "--comment", "a b", "-j", "ACCEPT"],
        ["-A", "X", "--comment", #"q"uote\back"#, "-j", "Y"],
        ["--log-prefix", "has # hash", "--other", ""],
        ["plain", "words", "only"],
    ])
    func joinThenSplitGivesTheArgumentsBack(_ arguments: [String]) {
        #expect(IPTablesTokenizer.split(IPTablesTokenizer.join(arguments)) == arguments)
    }
}
