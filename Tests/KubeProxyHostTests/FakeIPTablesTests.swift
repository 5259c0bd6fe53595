import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Testing

struct FakeIPTablesTests {
    func expectRejected(_ fake: FakeIPTables, _ input: String, containing message: String) async {
        let before = fake.ruleSet(family: .ipv4)
        do {
            try await fake.restore(input, family: .ipv4)
            Issue.record("accepted: \(input)")
        } catch let error as HostError {
            #expect(error.stderrTail.contains(message), "\(error)")
            #expect(error.command.first == "iptables-restore")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(fake.ruleSet(family: .ipv4) == before, "a rejected input must change nothing")
    }

    @Test func declaringAUserChainCreatesOrFlushesItAndLeavesOthersAlone() async throws {
        let fake = FakeIPTables()
        try await fake.restore("*nat\n:MINE - [0:0]\n-A MINE -j ACCEPT\n-A PREROUTING -j MINE\nCOMMIT\n", family: .ipv4)
        try await fake.restore("*nat\n:MINE - [0:0]\nCOMMIT\n", family: .ipv4)
        let nat = try #require(fake.ruleSet(family: .ipv4).table(named: "nat"))
        #expect(nat.chain(named: "MINE")?.rules == [])
        #expect(nat.chain(named: "PREROUTING")?.rules == [IPTablesRule(chain: "PREROUTING", arguments: ["-j", "MINE"])])
    }

    @Test func rejectsWhatIptablesRestoreRejectsAndKeepsTheOldTables() async throws {
        let fake = FakeIPTables()
        try await fake.restore("*nat\n:USED - [0:0]\n:FULL - [0:0]\n-A FULL -j ACCEPT\n-A OUTPUT -j USED\nCOMMIT\n", family: .ipv4)
        await expectRejected(fake, "*nat\n:NEW - [0:0]\n-A NOPE -j ACCEPT\nCOMMIT\n", containing: "line 3 failed: No chain/target/match")
        await expectRejected(fake, "*nat\n-A OUTPUT -j NO-SUCH-CHAIN\nCOMMIT\n", containing: "No chain/target/match")
        await expectRejected(fake, "*nat\n-D OUTPUT -j ACCEPT\nCOMMIT\n", containing: "Bad rule")
        await expectRejected(fake, "*nat\n-X USED\nCOMMIT\n", containing: "Device or resource busy")
        await expectRejected(fake, "*nat\n-X FULL\nCOMMIT\n", containing: "Directory not empty")
        await expectRejected(fake, "*nat\n-X OUTPUT\nCOMMIT\n", containing: "built-in")
        await expectRejected(fake, "*nat\n-I OUTPUT 5 -j ACCEPT\nCOMMIT\n", containing: "Index of insertion too big")
        await expectRejected(fake, "*nat\n-N USED\nCOMMIT\n", containing: "Chain already exists")
        await expectRejected(fake, "*nat\n-A OUTPUT -j ACCEPT\n", containing: "COMMIT expected")
        await expectRejected(fake, "*bogus\nCOMMIT\n", containing: "Table does not exist")
        await expectRejected(fake, "-A OUTPUT -j ACCEPT\n", containing: "no table")
        await expectRejected(fake, "*nat\n-Q OUTPUT\nCOMMIT\n", containing: "Bad argument")
    }

    @Test func deleteMatchesStructurallyLikeTheKernel() async throws {
        let fake = FakeIPTables()
        try await fake.restore(
            "*nat\n-A OUTPUT -m comment --comment \"x y\" -p tcp -m tcp --dport 80 -d 10.0.0.1 -j ACCEPT\nCOMMIT\n", family: .ipv4)
        // iptables-save spelling of the same rule deletes it.
        try await fake.restore(
            "*nat\n-D OUTPUT -d 10.0.0.1/32 -p tcp -m comment --comment \"x y\" -m tcp --dport 80 -j ACCEPT\nCOMMIT\n", family: .ipv4)
        #expect(fake.ruleSet(family: .ipv4).rules(in: "OUTPUT", table: "nat").isEmpty)
    }

    @Test func saveUsesIptablesSaveOrderAndChainListing() async throws {
        let fake = FakeIPTables()
        try await fake.restore(
            "*nat\n:ZED - [0:0]\n:ALPHA - [0:0]\n-A ZED -m comment --comment c -p udp -m udp --dport 53 -d 10.0.0.1 -j ACCEPT\nCOMMIT\n",
            family: .ipv4)
        let text = try await fake.save(family: .ipv4)
        #expect(text.contains("\n:POSTROUTING ACCEPT [0:0]\n:ALPHA - [0:0]\n:ZED - [0:0]\n"))
        #expect(text.contains(#"-A ZED -d 10.0.0.1/32 -p udp -m comment --comment "c" -m udp --dport 53 -j ACCEPT"#))
        let parsed = try IPTablesRuleSet(parsingSave: text)
        #expect(parsed.table(named: "nat")?.chains.map(\.name) == ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "ALPHA", "ZED"])
        #expect(parsed.rules(in: "ZED", table: "nat") == fake.ruleSet(family: .ipv4).rules(in: "ZED", table: "nat"))
        #expect(fake.saveCount(family: .ipv4) == 1)
    }

    @Test func injectedFailureIsThrownOnceAndRecorded() async throws {
        let fake = FakeIPTables()
        fake.failNextRestore(with: HostError(.exitStatus(4), command: ["iptables-restore"], stderr: "lock"))
        await #expect(throws: HostError.self) { try await fake.restore("*nat\n:A - [0:0]\nCOMMIT\n", family: .ipv4) }
        #expect(fake.ruleSet(family: .ipv4).chain("A", in: "nat") == nil)
        try await fake.restore("*nat\n:A - [0:0]\nCOMMIT\n", family: .ipv4)
        #expect(fake.ruleSet(family: .ipv4).chain("A", in: "nat") != nil)
        #expect(fake.restoreInputs(family: .ipv4).count == 2)
        #expect(fake.restoreInputs(family: .ipv6).isEmpty)
    }

    /// Incremental portal batches (`-D` of exact old rules, `-A`, no chain declaration) must
    /// work on the kernel as on the fake: applied to both after a full sync, the tables agree.
    @Test(
        .enabled(if: Prerequisites.missingForIPTables.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForIPTables)),
        arguments: IPFamily.allCases)
    func incrementalPortalBatchesAgreeWithTheKernel(_ family: IPFamily) async throws {
        try await withTestNamespace { netns in
            let real = SystemIPTables(netns: netns)
            let fake = FakeIPTables()
            let (web, dns) = (samplePorts(family: family)[0], samplePorts(family: family)[1])
            var moved = web
            moved.proxyPort += 1
            moved.servicePort.nodePort = 0
            var book = PortalRuleBook()
            _ = book.update(to: PortalRuleBook.keyed([web, dns]), renderer: sampleRenderer(family: family))
            for executor in [real, fake] as [any IPTablesExecutor] {
                _ = try await sync(executor, family: family, ports: [web, dns])
            }
            for ports in [[moved, dns], [moved], [web, dns]] {
                let script = book.update(to: PortalRuleBook.keyed(ports), renderer: sampleRenderer(family: family))
                #expect(!script.isEmpty)
                for executor in [real, fake] as [any IPTablesExecutor] {
                    try await executor.restore(script.text, family: family)
                }
                let state = try await savedState(real, family: family)
                #expect(try await savedState(fake, family: family) == state)
                #expect(book.isSatisfied(by: state))
            }
        }
    }

    /// The fake must agree with the kernel: the same syncs and cleanup applied to both read
    /// back as the same tables.
    @Test(
        .enabled(if: Prerequisites.missingForIPTables.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForIPTables)),
        arguments: IPFamily.allCases)
    func fakeAndRealIptablesEndInTheSameTables(_ family: IPFamily) async throws {
        try await withTestNamespace { netns in
            let real = SystemIPTables(netns: netns)
            let fake = FakeIPTables()
            for ports in [samplePorts(family: family), [samplePorts(family: family)[0]]] {
                try await sync(real, family: family, ports: ports)
                try await sync(fake, family: family, ports: ports)
                #expect(try await savedState(fake, family: family) == savedState(real, family: family))
            }
            for executor in [real, fake] as [any IPTablesExecutor] {
                let script = PortalCleanup.script(current: try await savedState(executor, family: family))
                try await executor.restore(script.text, family: family)
            }
            #expect(try await savedState(fake, family: family) == savedState(real, family: family))
        }
    }
}
