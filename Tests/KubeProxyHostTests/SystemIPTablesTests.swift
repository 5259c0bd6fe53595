import KubeProxyCore
import KubeProxyHost
import KubeProxyIPTables
import KubeProxyTesting
import Testing

/// The real iptables, always inside a namespace the test creates and deletes.
@Suite(.enabled(if: Prerequisites.missingForIPTables.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForIPTables)))
struct SystemIPTablesTests {
    @Test(arguments: IPFamily.allCases)
    func renderedBatchReadsBackStructurallyEqual(_ family: IPFamily) async throws {
        try await withTestNamespace { netns in
            let executor = SystemIPTables(netns: netns)
            #expect(executor.isAvailable(family: family))
            try await sync(executor, family: family, ports: samplePorts(family: family))
            let saved = try await savedState(executor, family: family)
            let desired = sampleRenderer(family: family).render(samplePorts(family: family))
            #expect(PortalState(saved) == PortalState(desired))
            #expect(PortalState(saved).unrecognized.isEmpty)
            #expect(UserspacePortalRenderer.isSatisfied(desired: desired, current: saved))

            // A second sync rewrites the chains but needs no jump changes.
            let second = try await sync(executor, family: family, ports: [samplePorts(family: family)[1]])
            #expect(
                second.commands(for: "nat").allSatisfy {
                    if case .declareChain = $0 { true } else if case .append(let r) = $0 { r.chain.hasPrefix("KUBE-") } else { false }
                })
            let after = try await savedState(executor, family: family)
            #expect(PortalState(after) == PortalState(sampleRenderer(family: family).render([samplePorts(family: family)[1]])))
        }
    }

    @Test func reconcilerMovesAJumpPushedDownByAnotherComponent() async throws {
        try await withTestNamespace { netns in
            let executor = SystemIPTables(netns: netns)
            try await sync(executor, family: .ipv4, ports: samplePorts(family: .ipv4))
            try await executor.restore(
                "*nat\n-I PREROUTING 1 -s 10.0.0.0/8 -j ACCEPT\n-A PREROUTING -s 10.1.0.0/16 -j ACCEPT\nCOMMIT\n", family: .ipv4)
            let moved = try await savedState(executor, family: .ipv4)
            #expect(!JumpReconciler.script(current: moved).isEmpty)
            try await executor.restore(JumpReconciler.script(current: moved).text, family: .ipv4)
            let fixed = try await savedState(executor, family: .ipv4)
            let pre = fixed.rules(in: "PREROUTING", table: "nat")
            #expect(pre.count == 4)
            #expect(ParentJump.portalsContainer.matches(pre[0]))
            #expect(ParentJump.nodePortContainer.matches(pre[3]))
            #expect(JumpReconciler.script(current: fixed).isEmpty)
        }
    }

    @Test(arguments: IPFamily.allCases)
    func cleanupTwiceLeavesNoChainsAndTheSecondIsANoOp(_ family: IPFamily) async throws {
        try await withTestNamespace { netns in
            let executor = SystemIPTables(netns: netns)
            try await sync(executor, family: family, ports: samplePorts(family: family))
            let first = PortalCleanup.script(current: try await savedState(executor, family: family))
            #expect(!first.isEmpty)
            try await executor.restore(first.text, family: family)
            let after = try await savedState(executor, family: family)
            #expect(!after.tables.flatMap(\.chains).contains { $0.name.hasPrefix("KUBE-") })
            #expect(!after.tables.flatMap(\.rules).contains { $0.target?.hasPrefix("KUBE-") == true })
            let second = PortalCleanup.script(current: after)
            #expect(second.isEmpty)
            #expect(try await savedState(executor, family: family) == after)
        }
    }

    @Test func failedRestoreReportsCommandStatusAndStderr() async throws {
        try await withTestNamespace { netns in
            let executor = SystemIPTables(netns: netns)
            do {
                try await executor.restore("*nat\n-A NO-SUCH-CHAIN -j ACCEPT\nCOMMIT\n", family: .ipv4)
                Issue.record("restore into a missing chain succeeded")
            } catch let error as HostError {
                #expect(error.command.prefix(4) == ["ip", "netns", "exec", netns])
                #expect(error.command.contains("iptables-restore"))
                #expect(error.command.contains("--noflush"))
                if case .exitStatus(let status) = error.kind { #expect(status != 0) } else { Issue.record("kind \(error.kind)") }
                #expect(error.stderrTail.contains("line 2"))
            }
        }
    }

    /// The whole-text restore is the streaming one with a single piece: same arguments, same
    /// `lines=` in the debug line (the benchmark sums it), same error log.
    @Test func wholeTextAndStreamedRestoresShareArgumentsLogAndErrors() async throws {
        try await withTestNamespace { netns in
            let (logger, log) = RecordingLogHandler.logger()
            var executor = SystemIPTables(netns: netns, logger: logger)
            executor.restoreArguments = ["--noflush", "-w", "5", "--counters"]
            let text = "*filter\n:KP-TEST - [0:0]\n-A KP-TEST -j ACCEPT\nCOMMIT\n"
            try await executor.restore(text, family: .ipv4)
            let pieces = ["*filter\n:KP-TEST - [0:0]\n-A KP-", "TEST -j ACCEPT\nCOMMIT\n"]
            try await executor.restore(streaming: { emit in for piece in pieces { try emit(piece) } }, family: .ipv4)
            let runs = log.all.filter { $0.message == "running iptables-restore" }
            #expect(runs.map { $0.metadata.mapValues(\.description) } == Array(repeating: ["family": "IPv4", "lines": "4"], count: 2))
            #expect(runs.allSatisfy { $0.level == .debug })
            // The declaration flushed the chain, so it holds the one rule once.
            #expect(try await savedState(executor, family: .ipv4).rules(in: "KP-TEST", table: "filter").count == 1)

            do {
                try await executor.restore("*filter\n-A NO-SUCH-CHAIN -j ACCEPT\nCOMMIT\n", family: .ipv4)
                Issue.record("restore into a missing chain succeeded")
            } catch let error as HostError {
                #expect(error.command.suffix(5) == ["iptables-restore", "--noflush", "-w", "5", "--counters"])
            }
            let failures = log.all.filter { $0.message == "iptables-restore failed" }
            #expect(failures.count == 1)
            #expect(failures.first?.level == .error)
            let error = failures.first?.metadata["error"]?.description ?? ""
            #expect(error.contains("iptables-restore --noflush -w 5 --counters: exit status"))
        }
    }

    @Test func unavailableWithoutTheTools() {
        var executor = SystemIPTables()
        executor.runner.searchPath = ["/nonexistent"]
        #expect(!executor.isAvailable(family: .ipv4))
    }
}
