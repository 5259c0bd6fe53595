import KubeProxyCore

/// The chains an `iptables-save` shows, in a spelling comparable with our render, so a full
/// sync over existing rules (restart, resync after a failure, periodic or canary-forced full
/// sync) can leave alone the chains that already hold exactly the rules it would write.
///
/// Why: the nf_tables-based `iptables-restore` spends time quadratic in the chains one restore
/// names, so rewriting 110k chains that the kernel already holds costs minutes at 10k
/// Services. Leaving an identical chain in place is equivalent to replacing it with itself;
/// every chain that differs in any way (a foreign edit, a flush, another version's render) is
/// rewritten. The comparison is conservative: a spelling it does not know makes the chain
/// differ, which costs a rewrite, never a wrong rule.
struct IPTablesModeAdoption {
    /// Per table (`filter`, `nat`, `mangle`) and chain name, the rules as `iptables-save` printed them.
    private var chains: [String: [String: IPTablesChain]] = [:]
    /// The family, for the kernel's default spellings (REJECT type, `recent` mask).
    private let family: IPFamily

    /// Indexes `current`'s filter, nat and mangle chains (O(chains)).
    init(current: IPTablesRuleSet, family: IPFamily) {
        self.family = family
        for table in current.tables where table.name == "filter" || table.name == "nat" || table.name == "mangle" {
            var byName: [String: IPTablesChain] = [:]
            byName.reserveCapacity(table.chains.count)
            for chain in table.chains { byName[chain.name] = chain }
            chains[table.name] = byName
        }
    }

    /// Whether `table` has a chain called `name`.
    func contains(_ name: String, in table: String) -> Bool {
        chains[table]?[name] != nil
    }

    /// Whether the kernel's chain of that name holds exactly `chain`'s rules, in order.
    func holds(_ chain: IPTablesChain, in table: String) -> Bool {
        guard let existing = chains[table]?[chain.name], existing.rules.count == chain.rules.count else { return false }
        for (ours, theirs) in zip(chain.rules, existing.rules) {
            // Most rules come back in iptables-save's order unchanged, or with only their
            // probability re-spelled: compared word by word with slices of both packed texts,
            // with no reordered rule built and packed and no canonicalisation.
            if Self.quickMatch(ours, theirs) { continue }
            let oursWords = ours.saveOrderedArguments
            let theirsWords = theirs.saveOrderedArguments
            // Only the re-spellings `canonical` knows can make different words the same rule.
            guard Self.mayBeRespelled(oursWords) || Self.mayBeRespelled(theirsWords) else { return false }
            if Self.canonical(oursWords, family: family) != Self.canonical(theirsWords, family: family) {
                return false
            }
        }
        return true
    }

    /// Whether `theirs` is `ours` as iptables-save prints it, word for word, except that one
    /// `--probability` value may be another spelling of the same fixed point (9 of a 10-endpoint
    /// service's 32 rules). `false` means undecided: `canonical` knows the other re-spellings.
    ///
    /// Words are compared as bytes; canonically equivalent but differently encoded words
    /// (which `String`'s `==` calls equal) are left to `canonical`'s comparison.
    static func quickMatch(_ ours: IPTablesRule, _ theirs: IPTablesRule) -> Bool {
        let words = ours.saveOrderedWords()
        var index = 0
        var same = true
        var probabilities = 0
        theirs.forEachArgument { argument in
            guard same else { return }
            guard index < words.count else {
                same = false
                return
            }
            if !words[index].utf8.elementsEqual(argument.utf8) {
                if index > 0, words[index - 1].utf8.elementsEqual("--probability".utf8),
                    let value = fixedPoint(words[index]), value == fixedPoint(argument)
                {
                    probabilities += 1
                } else {
                    same = false
                }
            }
            index += 1
        }
        guard same, index == words.count else { return false }
        // `canonical` re-spells the first probability only, and only after the other patterns,
        // which a probability's value could take part in: anything more is for it to decide.
        return probabilities == 0 || (probabilities == 1 && Self.onlyRespellingIsOneProbability(words))
    }

    /// Whether `words` hold exactly one `--probability` and no word of another re-spelling.
    private static func onlyRespellingIsOneProbability(_ words: [Substring]) -> Bool {
        var probabilityWords = 0
        for word in words {
            if word == "--probability" { probabilityWords += 1 }
            if word == "MARK" || word == "REJECT" || word == "recent" { return false }
        }
        return probabilityWords == 1
    }

    /// A `statistic` probability as the kernel keeps it, round(p × 2³¹) (as in `canonical`).
    private static func fixedPoint(_ text: Substring) -> Int? {
        guard let value = Double(text) else { return nil }
        return Int(exactly: (value * 2_147_483_648).rounded())
    }

    /// Whether `canonical` could change `words`: they hold a word its re-spellings start from
    /// (most differing rules at 10k Services are `statistic` probabilities; a rule with none of
    /// these words is its own canonical form, so two such rules that differ are different).
    static func mayBeRespelled(_ words: [String]) -> Bool {
        words.contains { $0 == "MARK" || $0 == "REJECT" || $0 == "recent" || $0 == "--probability" }
    }

    /// A rule's arguments, already in iptables-save's order (`IPTablesRule.saveOrdered`), in one
    /// spelling for our render and `iptables-save` output: the kernel's re-spellings of what the renderer
    /// writes (checked against iptables 1.8.9 in a namespace by the kernel tests): MARK
    /// `--or-mark`/`--xor-mark` → `--set-xmark`, REJECT's default `--reject-with`, `recent`'s
    /// defaults and option order, and `statistic`'s probability as the kernel's 31-bit fixed
    /// point (we write 10 digits, iptables-save prints 11).
    static func canonical(_ saveOrdered: [String], family: IPFamily) -> [String] {
        var words = saveOrdered
        func replace(_ pattern: [String], _ make: ([String]) -> [String]) {
            guard words.count >= pattern.count,
                let start = (0...(words.count - pattern.count)).first(where: { index in
                    zip(pattern, words[index...]).allSatisfy { $0 == "*" || $0 == $1 }
                })
            else { return }
            let found = Array(words[start..<start + pattern.count])
            words.replaceSubrange(start..<start + pattern.count, with: make(found))
        }
        replace(["-j", "MARK", "--or-mark", "*"]) { ["-j", "MARK", "--set-xmark", "\($0[3])/\($0[3])"] }
        replace(["-j", "MARK", "--xor-mark", "*"]) { ["-j", "MARK", "--set-xmark", "\($0[3])/0x0"] }
        if words.suffix(2) == ["-j", "REJECT"] {
            words += ["--reject-with", family == .ipv4 ? "icmp-port-unreachable" : "icmp6-port-unreachable"]
        }
        let mask = family == .ipv4 ? "255.255.255.255" : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        replace(["-m", "recent", "--name", "*", "--rcheck", "--seconds", "*", "--reap"]) {
            ["-m", "recent", "--rcheck", "--seconds", $0[6], "--reap", "--name", $0[3], "--mask", mask, "--rsource"]
        }
        replace(["-m", "recent", "--name", "*", "--set"]) { ["-m", "recent", "--set", "--name", $0[3], "--mask", mask, "--rsource"] }
        replace(["--probability", "*"]) { found in
            // xt_statistic keeps the probability as round(p × 2³¹); two spellings that round
            // to the same value are the same rule.
            // `Int(exactly:)`: an infinite or huge value in a foreign rule must not trap.
            guard let value = Double(found[1]), let fixed = Int(exactly: (value * 2_147_483_648).rounded()) else { return found }
            return ["--probability", "\(fixed)/2^31"]
        }
        return words
    }
}
