import Foundation
import KubeProxyCore
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// The full sync's line-by-line read of `iptables-save` (issue #9) gives the verdict and jump
/// repairs of the whole parse it replaces.
struct PortalKernelReadTests {
    static let ports = PortalFullWriteTests.ports

    func book(_ ports: [PortalServicePort]) -> PortalRuleBook {
        var book = PortalRuleBook()
        book.load(PortalRuleBook.keyed(ports), renderer: wildcardRenderer)
        return book
    }

    /// A fake holding `book`'s full write.
    func written(_ book: PortalRuleBook) async throws -> FakeIPTables {
        let fake = FakeIPTables()
        let write = PortalFullWrite(book: book, current: try parseSave(try await fake.save(family: .ipv4)))
        try await fake.restore(write.text, family: .ipv4)
        return fake
    }

    /// Both verdicts and both jump repairs for `text`, which must agree.
    func expectAgreement(_ text: String, _ book: PortalRuleBook, satisfied: Bool) throws {
        let read = try PortalKernelRead(parsingSave: text, book: book)
        let whole = try parseSave(text)
        #expect(read.isSatisfied == satisfied)
        #expect(book.isSatisfied(by: whole) == satisfied)
        #expect(JumpReconciler.script(current: read.others) == JumpReconciler.script(current: whole))
        for chain in PortalChain.allCases {
            #expect((read.others.chain(chain.rawValue, in: chain.table) != nil) == (whole.chain(chain.rawValue, in: chain.table) != nil))
            #expect(read.others.rules(in: chain.rawValue, table: chain.table).isEmpty)
        }
    }

    @Test func anEmptyKernelIsNotSatisfied() async throws {
        let fake = FakeIPTables()
        try expectAgreement(try await fake.save(family: .ipv4), book(Self.ports), satisfied: false)
    }

    @Test func theWrittenBookIsSatisfiedAndAnotherBookIsNot() async throws {
        let book = book(Self.ports)
        let text = try await written(book).save(family: .ipv4)
        try expectAgreement(text, book, satisfied: true)
        try expectAgreement(text, self.book(Array(Self.ports.dropLast())), satisfied: false)
        try expectAgreement(text, self.book(Self.ports + [PortalFullWriteTests.extra]), satisfied: false)
    }

    @Test func aForeignOrDuplicatedRuleOrAMissingJumpIsSeen() async throws {
        let book = book(Self.ports)
        let fake = try await written(book)
        let text = try await fake.save(family: .ipv4)
        let host = try #require(text.split(separator: "\n").first { $0.hasPrefix("-A KUBE-PORTALS-HOST") })
        let foreign = text.replacingFirst(String(host), with: "\(host)\n-A KUBE-PORTALS-HOST -j LOG")
        try expectAgreement(foreign, book, satisfied: false)
        let rule = try #require(text.split(separator: "\n").first { $0.hasPrefix("-A KUBE-PORTALS-CONTAINER") })
        try expectAgreement(text.replacingFirst(String(rule), with: "\(rule)\n\(rule)"), book, satisfied: false)
        try expectAgreement(text.replacingFirst(String(rule), with: "[3:180] \(rule)"), book, satisfied: true)
        let jump = try #require(text.split(separator: "\n").first { $0.hasPrefix("-A PREROUTING") })
        try expectAgreement(text.replacingFirst(String(jump) + "\n", with: ""), book, satisfied: false)
    }

    @Test func errorsNameTheLineOfTheSave() async throws {
        let text = try await written(book(Self.ports)).save(family: .ipv4) + "-A KUBE-PORTALS-HOST \"open\n"
        let whole = try #require(throws: IPTablesError.self) { try parseSave(text) }
        let read = try #require(throws: IPTablesError.self) { try PortalKernelRead(parsingSave: text, book: book(Self.ports)) }
        #expect(read.line == whole.line)
    }
}

extension String {
    /// `self` with the first occurrence of `target` replaced.
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
