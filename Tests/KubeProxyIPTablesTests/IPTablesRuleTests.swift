import KubeProxyIPTables
import Testing

struct IPTablesRuleTests {
    @Test func saveOrderMovesGenericMatchesFrontLikeTheIPT13Example() {
        // Ours (the order of docs/userspace-behaviour.md#rule-match) and what iptables-save printed on a real node (kubernetes#13913).
        let ours = IPTablesRule(
            chain: "KUBE-NODEPORT-CONTAINER",
            arguments: [
                "-m", "comment", "--comment", "default/packetix-112:", "-p", "tcp", "-m", "tcp", "--dport", "30503",
                "-j", "REDIRECT", "--to-ports", "43913",
            ])
        let printed =
            "-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment \"default/packetix-112:\" -m tcp --dport 30503 -j REDIRECT --to-ports 43913"
        #expect(ours.saveOrdered.description == printed)
    }

    @Test func saveOrderPutsDestinationBeforeProtocolAndAddsPrefixLengths() {
        let v4 = IPTablesRule(
            chain: "C",
            arguments: ["-m", "comment", "--comment", "x", "-p", "udp", "-m", "udp", "--dport", "53", "-d", "10.0.0.10", "-j", "ACCEPT"])
        #expect(
            v4.saveOrdered.arguments == [
                "-d", "10.0.0.10/32", "-p", "udp", "-m", "comment", "--comment", "x", "-m", "udp", "--dport", "53", "-j", "ACCEPT",
            ])
        let v6 = IPTablesRule(chain: "C", arguments: ["-p", "tcp", "--destination", "fd00::1", "-j", "ACCEPT"])
        #expect(v6.saveOrdered.arguments == ["-d", "fd00::1/128", "-p", "tcp", "-j", "ACCEPT"])
    }

    @Test func saveOrderKeepsNegationWithItsOption() {
        let rule = IPTablesRule(chain: "C", arguments: ["-m", "physdev", "!", "--physdev-is-in", "!", "-s", "10.0.0.0/8", "-j", "ACCEPT"])
        #expect(rule.saveOrdered.arguments == ["!", "-s", "10.0.0.0/8", "-m", "physdev", "!", "--physdev-is-in", "-j", "ACCEPT"])
    }

    @Test func targetIsTheJumpValue() {
        #expect(IPTablesRule(chain: "C", arguments: ["-p", "tcp", "-j", "DNAT", "--to-destination", "1.2.3.4:5"]).target == "DNAT")
        #expect(IPTablesRule(chain: "C", arguments: ["-g", "KUBE-X"]).target == "KUBE-X")
        #expect(IPTablesRule(chain: "C", arguments: ["-p", "tcp"]).target == nil)
    }

    /// Rules are stored packed (one string); every argument list must come back exactly, and
    /// equality and hashing must follow the arguments whatever the storage.
    @Test(arguments: [
        [String](), [""], ["", ""], ["-j", "ACCEPT"], ["-m", "comment", "--comment", "a b", "-j", ""],
        ["--comment", "odd\u{1F}separator", "-j", "DROP"], ["\u{1F}"],
    ])
    func argumentsSurviveTheCompactStorage(_ arguments: [String]) {
        var rule = IPTablesRule(chain: "KUBE-SEP-X", arguments: arguments)
        #expect(rule.arguments == arguments)
        var seen: [String] = []
        rule.forEachArgument { seen.append(String($0)) }
        #expect(seen == arguments)
        let again = IPTablesRule(chain: "KUBE-SEP-X", arguments: arguments)
        #expect(rule == again && rule.hashValue == again.hashValue)
        #expect(rule != IPTablesRule(chain: "KUBE-SEP-X", arguments: arguments + ["x"]))
        rule.arguments.append("--random-fully")
        #expect(rule.arguments == arguments + ["--random-fully"])
        #expect(IPTablesCommand.append(rule).line == IPTablesTokenizer.join(["-A", "KUBE-SEP-X"] + rule.arguments))
        var written = ""
        IPTablesCommand.append(rule).write(to: &written)
        #expect(written == IPTablesCommand.append(rule).line)
    }

    @Test func packedAndListArgumentsAreDistinct() {
        // [] and [""] would both pack to "": one of them must not be packed.
        #expect(IPTablesRule(chain: "C", arguments: []) != IPTablesRule(chain: "C", arguments: [""]))
        #expect(IPTablesRule(chain: "C", arguments: ["a\u{1F}b"]) != IPTablesRule(chain: "C", arguments: ["a", "b"]))
    }
}
