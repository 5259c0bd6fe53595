import KubeProxyHost
import Testing

struct CommandRunnerTests {
    @Test func feedsStdinAndCapturesLargeStdoutWithoutDeadlock() async throws {
        // 2 MiB through `cat`: far more than a pipe buffer in both directions.
        let line = String(repeating: "x", count: 1023) + "\n"
        let input = String(repeating: line, count: 2048)
        let output = try await CommandRunner().run("cat", [], input: input).checked()
        #expect(output.stdout.count == input.count)
        #expect(output.stdout == input)
    }

    @Test func streamedStdinArrivesWholeAndInOrder() async throws {
        let pieces = (0..<3000).map { "piece \($0) " + String(repeating: "é", count: $0 % 700) + "\n" }
        let output = try await CommandRunner().run("cat", [], streamingInput: { emit in for piece in pieces { try emit(piece) } })
            .checked()
        #expect(output.stdout == pieces.joined())
    }

    @Test func failingInputProducerFailsTheRunBeforeTheToolStarts() async {
        struct Refused: Error {}
        do {
            _ = try await CommandRunner().run(
                "sh", ["-c", "exit 0"],
                streamingInput: { emit in
                    try emit("partial line")
                    throw Refused()
                })
            Issue.record("ran with a failed input")
        } catch {
            guard case .launchFailed(let message) = error.kind else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("Refused"))
            #expect(error.command == ["sh", "-c", "exit 0"])
        }
    }

    @Test func capturesStderrAndNonZeroExitWithoutThrowing() async throws {
        let output = try await CommandRunner().run("ls", ["/definitely/not/here"])
        #expect(output.exitStatus != 0)
        #expect(!output.succeeded)
        #expect(output.stderr.contains("/definitely/not/here"))
        #expect(throws: HostError.self) { try output.checked() }
    }

    @Test func missingToolIsExecutableNotFound() async {
        do {
            _ = try await CommandRunner().run("kube-proxy-no-such-tool", ["a"])
            Issue.record("ran a missing tool")
        } catch {
            #expect(error.kind == .executableNotFound)
            #expect(error.command == ["kube-proxy-no-such-tool", "a"])
        }
    }

    @Test func argumentsArePassedVerbatimNotThroughAShell() async throws {
        let output = try await CommandRunner().run("echo", ["a b", "$HOME", "*", ";", "x"]).checked()
        #expect(output.stdout == "a b $HOME * ; x\n")
    }

    @Test func namespacePrefixesTheCommandLine() {
        let runner = CommandRunner(netns: "kp-test-x")
        #expect(runner.commandLine("iptables-save", []) == ["ip", "netns", "exec", "kp-test-x", "iptables-save"])
        #expect(CommandRunner().commandLine("iptables-save", ["-t", "nat"]) == ["iptables-save", "-t", "nat"])
    }

    @Test func locateFindsExecutablesOnTheSearchPathOnly() {
        #expect(CommandRunner().locate("cat") != nil)
        #expect(CommandRunner(searchPath: ["/nonexistent"]).locate("cat") == nil)
        #expect(CommandRunner(searchPath: []).locate("/bin/sh") == "/bin/sh")
    }
}
