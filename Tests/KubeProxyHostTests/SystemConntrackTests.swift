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

struct SystemConntrackFilterTests {
    @Test func filterArgumentsPutTheProtocolBeforeThePort() {
        let filter = ConntrackCleanup.Filter(
            family: .ipv4, destination: ip("10.96.0.10"), destinationPort: 53, replySource: ip("10.0.0.1"))
        #expect(
            SystemConntrack.arguments(filter: filter) == [
                "-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53", "--reply-src", "10.0.0.1",
            ])
        let nodePort = ConntrackCleanup.Filter(family: .ipv6, destination: nil, destinationPort: 30053, replySource: nil)
        #expect(SystemConntrack.arguments(filter: nodePort) == ["-D", "-p", "udp", "--orig-port-dst", "30053", "-f", "ipv6"])
    }

    @Test func deletedCountIsReadFromTheToolsSummary() {
        let three = "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n"
        #expect(SystemConntrack.deletedCount(CommandOutput(command: [], stdout: "", stderr: three, exitStatus: 0)) == 3)
        #expect(SystemConntrack.deletedCount(CommandOutput(command: [], stdout: "", stderr: "", exitStatus: 0)) == 0)
    }

    /// Real flows in a private namespace: only the flow answered by the stale endpoint goes.
    @Test(.enabled(if: Prerequisites.missingForConntrack.isEmpty, Prerequisites.skipMessage(Prerequisites.missingForConntrack)))
    func deletesOnlyFlowsRepliedByTheStaleEndpoint() async throws {
        try await withTestNamespace { netns in
            let runner = CommandRunner(netns: netns)
            let conntrack = SystemConntrack(netns: netns)
            for (client, endpoint) in [("10.0.0.2", "10.180.0.1"), ("10.0.0.3", "10.180.0.2")] {
                // A DNATed flow: original 10.0.0.x → 10.96.0.10:53, reply from the endpoint.
                _ = try await runner.run(
                    "conntrack",
                    [
                        "-I", "-p", "udp", "-s", client, "-d", "10.96.0.10", "--sport", "40000", "--dport", "53",
                        "-r", endpoint, "-q", client, "--reply-port-src", "53", "--reply-port-dst", "40000", "-t", "60",
                    ]
                ).checked()
            }
            let filter = ConntrackCleanup.Filter(
                family: .ipv4, destination: ip("10.96.0.10"), destinationPort: 53, replySource: ip("10.180.0.1"))
            #expect(try await conntrack.deleteUDPFlows(matching: filter) == 1)
            let listed = try await runner.run("conntrack", ["-L", "-p", "udp", "-d", "10.96.0.10"])
            #expect(!listed.stdout.contains("src=10.180.0.1"))
            #expect(listed.stdout.contains("src=10.180.0.2"))
            #expect(try await conntrack.deleteUDPFlows(matching: filter) == 0)
        }
    }
}
