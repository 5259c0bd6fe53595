import KubeProxyIPTables
import KubeProxyTesting
import Testing

struct JumpReconcilerTests {
    static let j1 = ParentJump.portalsContainer.rule
    static let j2 = ParentJump.portalsHost.rule
    static let j3 = ParentJump.nodePortContainer.rule
    static let j4 = ParentJump.nodePortHost.rule
    static let j5 = ParentJump.nodePortNonLocal.rule
    static let foreignPre = IPTablesRule(chain: "PREROUTING", arguments: ["-j", "DOCKER"])
    static let foreignOut = IPTablesRule(chain: "OUTPUT", arguments: ["-d", "10.9.9.9/32", "-j", "ACCEPT"])

    /// A host state with the portal chains present and the given built-in chain contents, in
    /// iptables-save spelling (as the kernel would print them).
    static func state(prerouting: [IPTablesRule], output: [IPTablesRule] = [j2, j4], input: [IPTablesRule] = [j5]) -> IPTablesRuleSet {
        let nat = IPTablesTable(
            name: "nat",
            chains: [
                IPTablesChain(name: "PREROUTING", policy: "ACCEPT", rules: prerouting.map(\.saveOrdered)),
                IPTablesChain(name: "INPUT", policy: "ACCEPT"),
                IPTablesChain(name: "OUTPUT", policy: "ACCEPT", rules: output.map(\.saveOrdered)),
                IPTablesChain(name: "POSTROUTING", policy: "ACCEPT"),
                IPTablesChain(name: "DOCKER"),
            ] + PortalChain.chains(in: "nat").map { IPTablesChain(name: $0.rawValue) })
        let filter = IPTablesTable(
            name: "filter",
            chains: [
                IPTablesChain(name: "INPUT", policy: "ACCEPT", rules: input.map(\.saveOrdered)),
                IPTablesChain(name: "FORWARD", policy: "ACCEPT"), IPTablesChain(name: "OUTPUT", policy: "ACCEPT"),
                IPTablesChain(name: PortalChain.nodePortNonLocal.rawValue),
            ])
        return IPTablesRuleSet(tables: [nat, filter])
    }

    @Test func nothingToDoWhenEveryJumpIsInPlace() {
        let current = Self.state(prerouting: [Self.j1, Self.foreignPre, Self.j3], output: [Self.j2, Self.foreignOut, Self.j4])
        #expect(JumpReconciler.script(current: current).isEmpty)
    }

    @Test func missingJumpsAreInsertedFirstOrAppendedLast() {
        let current = Self.state(prerouting: [Self.foreignPre], output: [], input: [])
        #expect(
            JumpReconciler.commands(for: "nat", current: current) == [
                .insert(Self.j1, position: 1), .insert(Self.j2, position: 1), .append(Self.j3), .append(Self.j4),
            ])
        #expect(JumpReconciler.commands(for: "filter", current: current) == [.insert(Self.j5, position: 1)])
    }

    @Test func duplicatesAreAllDeletedAndOneCopyAddedBack() {
        let current = Self.state(prerouting: [Self.j1, Self.j1, Self.j3])
        let printedJ1 = Self.j1.saveOrdered
        #expect(
            JumpReconciler.commands(for: "nat", current: current) == [
                .delete(printedJ1), .delete(printedJ1), .insert(Self.j1, position: 1),
            ])
    }

    @Test func misplacedJumpsAreMoved() {
        let current = Self.state(prerouting: [Self.foreignPre, Self.j1, Self.j3, Self.foreignPre])
        #expect(
            JumpReconciler.commands(for: "nat", current: current) == [
                .delete(Self.j1.saveOrdered), .delete(Self.j3.saveOrdered), .insert(Self.j1, position: 1), .append(Self.j3),
            ])
    }

    @Test(arguments: [
        [foreignPre],
        [j3, j1],
        [j3, foreignPre, j1, j1],
        [j1, j3, j1, foreignPre, j3],
        [foreignPre, j3, foreignPre],
        [j1],
        [j3],
    ])
    func applyingTheCommandsReachesAFixedPoint(_ prerouting: [IPTablesRule]) async throws {
        let fake = FakeIPTables(initial: [.ipv4: Self.state(prerouting: prerouting, output: [Self.foreignOut, Self.j4, Self.j2, Self.j2])])
        let before = try IPTablesRuleSet(parsingSave: try await fake.save(family: .ipv4))
        try await fake.restore(JumpReconciler.script(current: before).text, family: .ipv4)
        let after = try IPTablesRuleSet(parsingSave: try await fake.save(family: .ipv4))
        #expect(JumpReconciler.script(current: after).isEmpty)
        let pre = after.rules(in: "PREROUTING", table: "nat")
        #expect(ParentJump.portalsContainer.matches(pre[0]))
        #expect(ParentJump.nodePortContainer.matches(pre[pre.count - 1]))
        #expect(pre.filter { $0.target == "DOCKER" }.count == prerouting.filter { $0.target == "DOCKER" }.count)
        let out = after.rules(in: "OUTPUT", table: "nat")
        #expect(out.map(\.target) == ["KUBE-PORTALS-HOST", "ACCEPT", "KUBE-NODEPORT-HOST"])
    }
}
