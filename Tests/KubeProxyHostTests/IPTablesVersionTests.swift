import KubeProxyCore
import KubeProxyHost
import Testing

/// `iptables --version` parsing and the version gate for `--random-fully` (upstream
/// `TestMasqueradeRule`: 1.6.1 without, 1.6.2 with).
@Suite struct IPTablesVersionTests {
    @Test(
        arguments: [
            ("iptables v1.8.9 (nf_tables)\n", [1, 8, 9], "nf_tables"),
            ("ip6tables v1.8.7 (legacy)", [1, 8, 7], "legacy"),
            ("iptables v1.6.1", [1, 6, 1], nil),
            ("iptables v1.4.21: unknown option", [1, 4, 21], nil),
        ] as [(String, [Int], String?)])
    func parsesTheVersionWord(_ output: String, _ components: [Int], _ backend: String?) throws {
        let version = try #require(IPTablesVersion(parsing: output))
        #expect(version.components == components)
        #expect(version.backend == backend)
    }

    @Test(arguments: ["", "iptables", "iptables v", "iptables v1", "iptables vx.y", "iptables v1..2", "version 1.8.9"])
    func outputWithoutAVersionIsNil(_ output: String) {
        #expect(IPTablesVersion(parsing: output) == nil)
    }

    @Test func randomFullyNeedsOneSixTwo() throws {
        #expect(try #require(IPTablesVersion(parsing: "iptables v1.6.2")).supportsRandomFully)
        #expect(try #require(IPTablesVersion(parsing: "iptables v1.10.0")).supportsRandomFully)
        #expect(try #require(IPTablesVersion(parsing: "iptables v2.0")).supportsRandomFully)
        #expect(try !#require(IPTablesVersion(parsing: "iptables v1.6.1")).supportsRandomFully)
        #expect(try !#require(IPTablesVersion(parsing: "iptables v1.6")).supportsRandomFully)
        #expect(IPTablesVersion(components: [1, 6]) == IPTablesVersion(components: [1, 6, 0]))
        #expect(IPTablesVersion(components: [1, 8, 9], backend: "nf_tables").description == "1.8.9 (nf_tables)")
    }

    /// The real tools answer with a version this parser understands.
    @Test(
        .enabled(if: Prerequisites.missingForIPTables.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForIPTables)),
        arguments: IPFamily.allCases)
    func theInstalledToolsHaveAParseableVersion(_ family: IPFamily) async throws {
        let version = try #require(await SystemIPTables().version(family: family))
        #expect(version.components.count >= 2)
    }
}
