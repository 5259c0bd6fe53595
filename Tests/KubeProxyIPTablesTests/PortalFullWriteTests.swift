import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// The streamed full write (issue #9) against the script it replaces, byte for byte.
struct PortalFullWriteTests {
    /// Every rule shape: ClusterIP, external IP, LB IP, NodePort, UDP, a comment needing escapes.
    static let ports = [
        PortalServicePort(
            servicePort: servicePort(
                "web", clusterIP: "10.96.0.10", port: 80, nodePort: 30080, externalIPs: ["203.0.113.9"],
                loadBalancerIPs: ["198.51.100.7"]),
            proxyPort: 40000),
        PortalServicePort(
            servicePort: servicePort("dns", portName: "dns", protocol: .udp, clusterIP: "10.96.0.53", port: 53), proxyPort: 40001),
        PortalServicePort(
            servicePort: servicePort("odd", portName: "a\"b\\c", clusterIP: "10.96.0.54", port: 8080), proxyPort: 40002),
    ]
    /// A port none of `ports` has.
    static let extra = PortalServicePort(
        servicePort: servicePort("extra", clusterIP: "10.96.0.99", port: 80), proxyPort: 40009)
    static let v6Renderer = UserspacePortalRenderer(listenIP: ip("fd00::1"), hostIP: ip("fd00::2"), family: .ipv6)
    static let v6Ports = [
        PortalServicePort(
            servicePort: servicePort("web6", clusterIP: "fd00:96::10", port: 443, nodePort: 30443, externalIPs: ["2001:db8::9"]),
            proxyPort: 40003)
    ]

    func book(_ ports: [PortalServicePort], renderer: UserspacePortalRenderer) -> PortalRuleBook {
        var book = PortalRuleBook()
        book.load(PortalRuleBook.keyed(ports), renderer: renderer)
        return book
    }

    /// The text of the script the full sync wrote before.
    func scriptText(_ book: PortalRuleBook, renderer: UserspacePortalRenderer, current: IPTablesRuleSet) -> String {
        UserspacePortalRenderer.restoreScript(desired: book.ruleSet(renderer: renderer), current: current).text
    }

    @Test(arguments: [false, true])
    func writesTheScriptsTextForEveryRuleShape(ipv6: Bool) throws {
        let renderer = ipv6 ? Self.v6Renderer : wildcardRenderer
        let book = book(ipv6 ? Self.v6Ports : Self.ports, renderer: renderer)
        let write = PortalFullWrite(book: book, current: IPTablesRuleSet())
        #expect(write.text == scriptText(book, renderer: renderer, current: IPTablesRuleSet()))
        #expect(write.repairsJumps)
    }

    @Test func eachRuleIsSpelledAsItsAppendCommand() {
        let specific = UserspacePortalRenderer(listenIP: ip("10.0.0.5"), hostIP: ip("192.168.1.5"), family: .ipv4)
        let rules =
            Self.ports.flatMap { wildcardRenderer.portalRules(for: $0) + specific.portalRules(for: $0) }
            + Self.v6Ports.flatMap { Self.v6Renderer.portalRules(for: $0) }
            + ParentJump.all.compactMap { PortalRule($0.rule) }
        #expect(rules.count > 20)
        for rule in rules {
            var line = ""
            rule.writeAppend(to: &line)
            #expect(line == IPTablesCommand.append(rule.rule).line)
        }
    }

    @Test func jumpsAlreadyInPlaceAreNotRepaired() async throws {
        let fake = FakeIPTables()
        let book = book(Self.ports, renderer: wildcardRenderer)
        let first = PortalFullWrite(book: book, current: try parseSave(try await fake.save(family: .ipv4)))
        try await fake.restore(first.text, family: .ipv4)
        let current = try parseSave(try await fake.save(family: .ipv4))
        #expect(book.isSatisfied(by: current))
        let again = PortalFullWrite(book: book, current: current)
        #expect(!again.repairsJumps)
        #expect(again.text == scriptText(book, renderer: wildcardRenderer, current: current))
    }

    @Test func largeWritesComeInWholeLinesAndJoinToTheScript() throws {
        let ports = (0..<1500).map { index in
            PortalServicePort(
                servicePort: servicePort(
                    "svc-\(index)", clusterIP: "10.96.\(index / 250).\(index % 250 + 1)", port: 80, nodePort: 30000 + index),
                proxyPort: 20000 + index)
        }
        let book = book(ports, renderer: wildcardRenderer)
        let write = PortalFullWrite(book: book, current: IPTablesRuleSet())
        var pieces: [String] = []
        write.write { pieces.append($0) }
        #expect(pieces.count > 2)
        #expect(pieces.allSatisfy { $0.hasSuffix("\n") && $0.utf8.count < PortalFullWrite.chunkSize + 1024 })
        #expect(pieces.joined() == scriptText(book, renderer: wildcardRenderer, current: IPTablesRuleSet()))
    }

    @Test func anEmitErrorEndsTheWrite() {
        struct Stop: Error {}
        let write = PortalFullWrite(book: book(Self.ports, renderer: wildcardRenderer), current: IPTablesRuleSet())
        var calls = 0
        #expect(throws: Stop.self) {
            try write.write { _ in
                calls += 1
                throw Stop()
            }
        }
        #expect(calls == 1)
    }
}
