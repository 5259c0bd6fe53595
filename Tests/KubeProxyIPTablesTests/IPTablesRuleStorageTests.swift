import KubeProxyIPTables
import Testing

/// Rules keep their arguments packed into one string (short ones fit inline in the `String`
/// itself) or, when packing would be ambiguous, as a list: every size and both storage forms
/// are built, read, copied, compared and hashed here.
struct IPTablesRuleStorageTests {
    @Test(arguments: [
        ["-j", "D"], ["-j", "DOCKER"], ["-j", "DROP"], ["-j", "DOCKER-LONGER-NAME"], ["-d", "10.9.9.9/32", "-j", "ACCEPT"],
        [], [""], ["a\u{1F}b", "-j", "X"], ["-m", "comment", "--comment", "\"ns/svc:p\"", "-j", "KUBE-SVC-ABCDEFGHIJKLMNOP"],
    ])
    func argumentsSurviveEveryStorageForm(_ arguments: [String]) {
        let rule = IPTablesRule(chain: "P", arguments: arguments)
        #expect(rule.arguments == arguments)
        var copy = rule
        #expect(copy == rule && copy.hashValue == rule.hashValue)
        var seen: [String] = []
        rule.forEachArgument { seen.append(String($0)) }
        #expect(seen == arguments)
        copy.arguments = arguments + ["-j", "Z"]
        #expect(copy != rule && !copy.hasSameArguments(as: rule))
        copy.arguments = arguments
        #expect(copy.hasSameArguments(as: rule))
    }
}
