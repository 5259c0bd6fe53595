import KubeProxyCore
import KubeProxyIPTables
import Testing

struct PortalRuleBookTests {
    static let renderer = UserspacePortalRenderer(listenIP: .v4(0), hostIP: IPAddress("10.100.0.10")!, family: .ipv4)

    static func port(_ name: String, ip: String, proxyPort: Int, nodePort: Int = 0) -> PortalServicePort {
        PortalServicePort(
            servicePort: ServicePort(
                name: ServicePortName(namespace: "default", name: name, port: "http"), clusterIP: IPAddress(ip)!, port: 80,
                nodePort: nodePort),
            proxyPort: proxyPort)
    }

    static let web = port("web", ip: "10.96.0.10", proxyPort: 40001, nodePort: 30080)
    static let api = port("api", ip: "10.96.0.11", proxyPort: 40002)

    func book(_ ports: [PortalServicePort]) -> PortalRuleBook {
        var book = PortalRuleBook()
        _ = book.update(to: PortalRuleBook.keyed(ports), renderer: Self.renderer)
        return book
    }

    func lines(_ script: IPTablesRestoreScript) -> [String] {
        script.sections.flatMap(\.commands).map(\.line)
    }

    @Test func unchangedInputYieldsAnEmptyScript() {
        var book = book([Self.web, Self.api])
        let before = book
        let script = book.update(to: PortalRuleBook.keyed([Self.api, Self.web]), renderer: Self.renderer)
        #expect(script.isEmpty)
        #expect(script.text.isEmpty)
        #expect(book == before)
    }

    @Test func anAddedPortAppendsOnlyItsRulesAndDeclaresNoChain() {
        var book = book([Self.web])
        let script = book.update(to: PortalRuleBook.keyed([Self.web, Self.api]), renderer: Self.renderer)
        let expected = Self.renderer.portalRules(for: Self.api).map { IPTablesCommand.append($0.rule) }
        #expect(script.sections.flatMap(\.commands) == expected)
        #expect(script.sections.map(\.table) == ["nat"], "api has no NodePort, so filter is untouched")
        #expect(!script.text.contains(":KUBE-"), "with --noflush a chain declaration would flush the chain")
    }

    @Test func aRemovedPortDeletesExactlyItsRules() {
        var book = book([Self.web, Self.api])
        let script = book.update(to: PortalRuleBook.keyed([Self.api]), renderer: Self.renderer)
        let webRules = Self.renderer.portalRules(for: Self.web)
        #expect(Set(script.sections.flatMap(\.commands)) == Set(webRules.map { IPTablesCommand.delete($0.rule) }))
        #expect(lines(script).count == webRules.count)
        #expect(script.sections.map(\.table) == ["nat", "filter"])
        #expect(Array(book.entries.keys) == [Self.api.servicePort.name])
    }

    @Test func aChangedPortDeletesItsOldRulesBeforeAppendingTheNewOnes() {
        var book = book([Self.web, Self.api])
        var moved = Self.api
        moved.proxyPort = 40099
        let script = book.update(to: PortalRuleBook.keyed([Self.web, moved]), renderer: Self.renderer)
        let old = Self.renderer.portalRules(for: Self.api).map { IPTablesCommand.delete($0.rule) }
        let new = Self.renderer.portalRules(for: moved).map { IPTablesCommand.append($0.rule) }
        #expect(script.commands(for: "nat") == old + new)
        #expect(lines(script).allSatisfy { $0.contains("default/api:http") })
    }

    @Test func aChangeThatRendersTheSameRulesWritesNothing() {
        var book = book([Self.api])
        var affinity = Self.api
        affinity.servicePort.sessionAffinity = .clientIP(timeoutSeconds: 60)
        #expect(book.update(to: PortalRuleBook.keyed([affinity]), renderer: Self.renderer).isEmpty)
        #expect(book.entries[affinity.servicePort.name]?.port == affinity, "the new input is remembered")
    }

    @Test func onlyTheDifferingRulesOfAPortAreReplaced() {
        var book = book([Self.web])
        var noNodePort = Self.web
        noNodePort.servicePort.nodePort = 0
        let script = book.update(to: PortalRuleBook.keyed([noNodePort]), renderer: Self.renderer)
        let nodePortRules = Self.renderer.portalRules(for: Self.web).filter { $0.chain.hasPrefix("KUBE-NODEPORT") }
        #expect(script.sections.flatMap(\.commands) == nodePortRules.map { .delete($0.rule) })
    }

    @Test func theRuleSetIsTheFullRender() {
        let ports = [Self.web, Self.api]
        #expect(book(ports).ruleSet(renderer: Self.renderer) == Self.renderer.render(ports))
        #expect(PortalRuleBook().ruleSet(renderer: Self.renderer) == Self.renderer.skeleton())
    }

    @Test func isSatisfiedIgnoresOrderButNotMissingExtraOrForeignRules() {
        let book = book([Self.web, Self.api])
        var current = IPTablesRuleSet(tables: [
            IPTablesTable(
                name: "nat", chains: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"].map { IPTablesChain(name: $0, policy: "ACCEPT") }),
            IPTablesTable(name: "filter", chains: ["INPUT", "FORWARD", "OUTPUT"].map { IPTablesChain(name: $0, policy: "ACCEPT") }),
        ])
        for jump in ParentJump.all { current.append(jump.rule, in: jump.table) }
        let desired = book.ruleSet(renderer: Self.renderer)
        var reversed = current
        for chain in PortalChain.allCases {
            reversed.setChain(
                IPTablesChain(
                    name: chain.rawValue, rules: desired.rules(in: chain.rawValue, table: chain.table).reversed().map(\.saveOrdered)),
                in: chain.table)
        }
        #expect(book.isSatisfied(by: reversed))
        var missing = reversed
        var container = missing.chain(PortalChain.portalsContainer.rawValue, in: "nat")!
        let dropped = container.rules.removeFirst()
        missing.setChain(container, in: "nat")
        #expect(!book.isSatisfied(by: missing))
        var extra = reversed
        extra.append(dropped, in: "nat")
        extra.append(dropped, in: "nat")
        #expect(!book.isSatisfied(by: extra))
        var foreign = reversed
        foreign.append(IPTablesRule(chain: PortalChain.portalsHost.rawValue, arguments: ["-j", "LOG"]), in: "nat")
        #expect(!book.isSatisfied(by: foreign))
        var noChain = reversed
        noChain.tables[1].chains.removeAll { $0.name == PortalChain.nodePortNonLocal.rawValue }
        #expect(!book.isSatisfied(by: noChain))
    }
}

extension PortalRuleBookTests {
    @Test func loadMovesTheBookLikeUpdateWithoutCommands() {
        var loaded = book([Self.web])
        loaded.load(PortalRuleBook.keyed([Self.api]), renderer: Self.renderer)
        var updated = book([Self.web])
        _ = updated.update(to: PortalRuleBook.keyed([Self.api]), renderer: Self.renderer)
        #expect(loaded == updated)
        #expect(Set(loaded.entries.keys) == [Self.api.servicePort.name])
    }

    @Test func renderedRulesShareTheirServicePortsComment() {
        let rules = Self.renderer.portalRules(for: Self.web)
        #expect(rules.count == 5)
        #expect(rules.allSatisfy { $0.comment == Self.web.comment })
    }
}
