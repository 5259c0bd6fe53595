import KubeProxyCore
import KubeProxyHost
import Testing

/// `SystemNFTables` against the real nft, inside a fresh network namespace.
@Suite(.serialized, .enabled(if: Prerequisites.missingForNFTables.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForNFTables)))
struct NFTablesSystemExecutorTests {
    @Test func runListAndDelete() async throws {
        try await withTestNamespace { (netns: String) async throws in
            let nft = SystemNFTables(netns: netns)
            #expect(nft.isAvailable())
            #expect(try await nft.listTable(family: .ipv6, name: "kube-proxy") == nil)
            #expect(try await nft.deleteTable(family: .ipv6, name: "kube-proxy") == false)
            try await nft.run(
                """
                add table ip6 kube-proxy
                add chain ip6 kube-proxy services
                add rule ip6 kube-proxy services ip6 daddr ::1 drop

                """)
            let json = try #require(try await nft.listTable(family: .ipv6, name: "kube-proxy"))
            #expect(json.contains("\"chain\": \"services\"") || json.contains("\"chain\":\"services\""))
            #expect(try await nft.deleteTable(family: .ipv6, name: "kube-proxy"))
        }
    }

    /// A refused transaction names the command, exit status and nft's message, and changes
    /// nothing.
    @Test func failureCarriesCommandStatusAndStderr() async throws {
        try await withTestNamespace { (netns: String) async throws in
            let nft = SystemNFTables(netns: netns)
            let error = await #expect(throws: HostError.self) {
                try await nft.run("add table ip kube-proxy\nadd chain ip kube-proxy a\nadd rule ip kube-proxy a goto missing\n")
            }
            #expect(error?.kind == .exitStatus(1))
            #expect(error?.command == ["ip", "netns", "exec", netns, "nft", "-f", "-"])
            #expect(error?.stderrTail.contains("goto missing") == true)
            #expect(try await nft.listTable(family: .ipv4, name: "kube-proxy") == nil)
        }
    }
}

extension Prerequisites {
    /// Missing pieces for tests that run nft inside a fresh network namespace.
    static let missingForNFTables: [String] = missing(["ip", "nft"])
}
