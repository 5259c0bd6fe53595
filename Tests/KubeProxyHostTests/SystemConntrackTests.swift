import KubeProxyCore
import KubeProxyHost
import Testing

struct SystemConntrackTests {
    @Test func argumentsAreUpstreams() {
        #expect(SystemConntrack.arguments(destination: ip("10.96.0.10")) == ["-D", "--orig-dst", "10.96.0.10", "-p", "udp"])
        #expect(SystemConntrack.arguments(destination: ip("fd00::a")) == ["-D", "--orig-dst", "fd00::a", "-p", "udp", "-f", "ipv6"])
    }

    @Test func nothingDeletedIsRecognisedOnlyForExitOneWithThatMessage() {
        let message = "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n"
        #expect(SystemConntrack.isNothingDeleted(CommandOutput(command: [], stdout: "", stderr: message, exitStatus: 1)))
        #expect(!SystemConntrack.isNothingDeleted(CommandOutput(command: [], stdout: "", stderr: message, exitStatus: 2)))
        let ten = "conntrack v1.4.7 (conntrack-tools): 10 flow entries have been deleted.\n"
        #expect(!SystemConntrack.isNothingDeleted(CommandOutput(command: [], stdout: "", stderr: ten, exitStatus: 1)))
        #expect(!SystemConntrack.isNothingDeleted(CommandOutput(command: [], stdout: "", stderr: "Operation not permitted", exitStatus: 1)))
    }

    @Test(.enabled(if: Prerequisites.missingForConntrack.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForConntrack)))
    func deletesExistingFlowsAndTreatsNoneAsSuccess() async throws {
        try await withTestNamespace { netns in
            let runner = CommandRunner(netns: netns)
            let conntrack = SystemConntrack(netns: netns)
            for (source, destination) in [("10.0.0.2", "10.0.0.1"), ("fd00::2", "fd00::1")] {
                _ = try await runner.run(
                    "conntrack", ["-I", "-s", source, "-d", destination, "-p", "udp", "--sport", "1234", "--dport", "53", "-t", "60"]
                ).checked()
                try await conntrack.deleteUDPFlows(destination: ip(destination))
                let listed = try await runner.run(
                    "conntrack", ["-L", "-d", destination, "-p", "udp"] + (source.contains(":") ? ["-f", "ipv6"] : []))
                #expect(!listed.stdout.contains("dst=\(destination)"))
                // Nothing left: conntrack exits 1 with "0 flow entries", which is success.
                try await conntrack.deleteUDPFlows(destination: ip(destination))
            }
        }
    }
}
