import KubeProxyCore
import Testing

@testable import KubeProxyIPTables

/// The shortcuts a restart's adoption takes over 420k rules (compare slices instead of a packed
/// reordered rule, skip canonicalisation when no re-spelling applies, split lines over bytes)
/// must give the answers of the slower spellings they replace.
struct IPTablesAdoptionCompareTests {
    static let rules: [[String]] = [
        [
            "-m", "comment", "--comment", "ns/svc cluster IP", "-p", "tcp", "-m", "tcp", "--dport", "80", "-d", "10.0.0.1", "-j",
            "KUBE-SVC-X",
        ],
        [
            "-d", "10.0.0.1/32", "-p", "tcp", "-m", "comment", "--comment", "ns/svc cluster IP", "-m", "tcp", "--dport", "80", "-j",
            "KUBE-SVC-X",
        ],
        ["!", "--source", "10.0.0.0/8", "-m", "physdev", "!", "--physdev-is-in", "-j", "ACCEPT"],
        ["!", "-s", "10.0.0.0/8", "-m", "physdev", "!", "--physdev-is-in", "-j", "ACCEPT"],
        ["-s", "1.1.1.1", "-s", "2.2.2.2", "--protocol", "udp", "-f", "-j", "DROP"],
        ["-d", "fd00::1", "-p", "tcp", "-j", "ACCEPT"],
        ["-d", "fd00::1/128", "-p", "tcp", "-j", "ACCEPT"],
        ["-j", "ACCEPT"], ["-j", "ACCEPT", "-p"], ["!"], [], [""], ["-d"],
        ["-m", "comment", "--comment", "odd\u{1F}separator", "-j", "DROP"],
    ]

    static let probabilities: [[String]] = [
        ["-m", "statistic", "--mode", "random", "--probability", "0.1000000000", "-j", "KUBE-SEP-A"],
        ["-m", "statistic", "--mode", "random", "--probability", "0.10000000009", "-j", "KUBE-SEP-A"],
        ["-m", "statistic", "--mode", "random", "--probability", "0.10000000009", "-j", "KUBE-SEP-B"],
        ["-m", "statistic", "--mode", "random", "--probability", "0.2000000000", "-j", "KUBE-SEP-A"],
        ["-m", "statistic", "--mode", "random", "--probability", "inf", "-j", "KUBE-SEP-A"],
        ["-m", "statistic", "--mode", "random", "--probability", "1e300", "-j", "KUBE-SEP-A"],
        ["-m", "statistic", "--mode", "random", "--probability", "0.5", "-j", "MARK", "--or-mark", "0.5"],
        ["-m", "statistic", "--mode", "random", "--probability", "0.50", "-j", "MARK", "--or-mark", "0.5"],
        ["-m", "statistic", "--probability", "0.1", "-m", "statistic", "--probability", "0.5", "-j", "X"],
        ["-m", "statistic", "--probability", "0.1", "-m", "statistic", "--probability", "0.50", "-j", "X"],
    ]

    /// The quick comparison says "same" exactly when the rule iptables-save would print is the
    /// kernel's rule, or (probabilities) when `canonical` calls them the same; otherwise it
    /// leaves the answer to `canonical`.
    @Test func quickMatchAgreesWithComparingTheReorderedRule() {
        let samples = Self.rules + Self.probabilities
        for ours in samples {
            for theirs in samples {
                let a = IPTablesRule(chain: "C", arguments: ours)
                let b = IPTablesRule(chain: "C", arguments: theirs)
                #expect(a.saveOrderedWords().map(String.init) == a.saveOrdered.arguments)
                let exact = a.saveOrdered.hasSameArguments(as: b)
                let quick = IPTablesModeAdoption.quickMatch(a, b)
                if exact { #expect(quick, "\(ours) vs \(theirs)") }
                if quick {
                    #expect(
                        IPTablesModeAdoption.canonical(a.saveOrdered.arguments, family: .ipv4)
                            == IPTablesModeAdoption.canonical(b.saveOrdered.arguments, family: .ipv4), "\(ours) vs \(theirs)")
                }
            }
        }
        // A rule printed by iptables-save matches the rule we wrote in another order, and a
        // re-spelled probability matches unless another re-spelling could be involved.
        let written = IPTablesRule(chain: "C", arguments: Self.rules[0])
        #expect(IPTablesModeAdoption.quickMatch(written, IPTablesRule(chain: "C", arguments: Self.rules[1])))
        #expect(!IPTablesModeAdoption.quickMatch(written, IPTablesRule(chain: "C", arguments: Array(Self.rules[1].dropLast()))))
        let p = Self.probabilities.map { IPTablesRule(chain: "C", arguments: $0) }
        #expect(IPTablesModeAdoption.quickMatch(p[0], p[1]))
        #expect(!IPTablesModeAdoption.quickMatch(p[0], p[2]) && !IPTablesModeAdoption.quickMatch(p[0], p[3]))
        #expect(!IPTablesModeAdoption.quickMatch(p[4], p[5]) && !IPTablesModeAdoption.quickMatch(p[6], p[7]))
        #expect(!IPTablesModeAdoption.quickMatch(p[8], p[9]))
    }

    @Test func canonicalChangesOnlyWordsItDeclaresRespellable() {
        let samples: [[String]] =
            Self.rules + [
                ["-j", "MARK", "--or-mark", "0x4000"], ["-j", "MARK", "--xor-mark", "0x4000"], ["-p", "tcp", "-j", "REJECT"],
                ["-m", "recent", "--name", "X", "--set"], ["-m", "statistic", "--mode", "random", "--probability", "0.1000000000"],
            ]
        for words in samples {
            for family in [IPFamily.ipv4, .ipv6] where IPTablesModeAdoption.canonical(words, family: family) != words {
                #expect(IPTablesModeAdoption.mayBeRespelled(words), "\(words)")
            }
        }
        #expect(!IPTablesModeAdoption.mayBeRespelled(Self.rules[0]))
    }

    @Test func adoptionHoldsAChainWhoseProbabilityTheKernelRespelled() throws {
        let save = """
            *nat
            :KUBE-SVC-X - [0:0]
            -A KUBE-SVC-X -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A
            -A KUBE-SVC-X -j KUBE-SEP-B
            COMMIT

            """
        let adoption = IPTablesModeAdoption(current: try IPTablesRuleSet(parsingSave: save), family: .ipv4)
        let ours = IPTablesChain(
            name: "KUBE-SVC-X",
            rules: [
                IPTablesRule(
                    chain: "KUBE-SVC-X",
                    arguments: ["-m", "statistic", "--mode", "random", "--probability", "0.5000000000", "-j", "KUBE-SEP-A"]),
                IPTablesRule(chain: "KUBE-SVC-X", arguments: ["-j", "KUBE-SEP-B"]),
            ])
        #expect(adoption.holds(ours, in: "nat"))
        var other = ours
        other.rules[1] = IPTablesRule(chain: "KUBE-SVC-X", arguments: ["-j", "KUBE-SEP-C"])
        #expect(!adoption.holds(other, in: "nat"))
    }

    @Test func linesSplitLikeCharactersWouldSplitThem() throws {
        // A lone "\r" is no line end; "\r\n" is one; each "\n" is one.
        let text = "*nat\r\n:X - [0:0]\n-A X -j ACCEPT\r\r\n\n-A X -j DROP\r\nCOMMIT"
        let parsed = try IPTablesRuleSet(parsingSave: text)
        #expect(parsed.rules(in: "X", table: "nat").map(\.arguments) == [["-j", "ACCEPT"], ["-j", "DROP"]])
        // Were the lone "\r" a line end, `-j ACCEPT` would be a line of its own, and malformed.
        let loneCR = try IPTablesRuleSet(parsingSave: "*nat\n:X - [0:0]\n-A X\r-j ACCEPT\nCOMMIT\n")
        #expect(loneCR.rules(in: "X", table: "nat").map(\.arguments) == [["-j", "ACCEPT"]])
    }

    @Test(arguments: ["X Y", "X\tY", "X\u{0B}Y", "X\u{85}Y", "X\u{A0}Y", "X\u{2003}Y", "\u{3000}"])
    func chainNamesWithWhitespaceAreRefused(_ name: String) {
        #expect(IPTablesRuleSet.containsWhitespace(name))
        #expect(!IPTablesRuleSet.containsWhitespace("KUBE-SVC-ÄB\u{1F}"))
        #expect(throws: IPTablesError.self) {
            try IPTablesRuleSet(parsingSave: "*nat\n-A \"\(name)\" -j ACCEPT\nCOMMIT\n")
        }
    }
}
