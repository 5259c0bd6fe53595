import Foundation
import KubeProxyHost
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

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

    /// The tool reads the pieces as they are produced, but never sees the end of an input whose
    /// producer failed: it is killed first, so it cannot act on a truncated input as if whole.
    @Test func failingInputProducerKillsTheToolBeforeItSeesTheEnd() async throws {
        struct Refused: Error {}
        let name = "kp-runner-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        defer { try? FileManager.default.removeItem(at: marker) }
        do {
            _ = try await CommandRunner().run(
                "sh", ["-c", "cat >/dev/null; touch '\(marker.path)'"],
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
            #expect(error.command == ["sh", "-c", "cat >/dev/null; touch '\(marker.path)'"])
        }
        #expect(!FileManager.default.fileExists(atPath: marker.path), "the tool saw the end of a truncated input")
    }

    /// A tool that stops reading early does not take the proxy down with SIGPIPE: its own exit
    /// status is reported, and a tool that exits 0 without reading everything is an error
    /// (what it did not read was not applied).
    @Test func toolThatStopsReadingEarlyIsReportedNotFatal() async throws {
        let megabyte = String(repeating: String(repeating: "y", count: 1023) + "\n", count: 1024)
        let failing = try await CommandRunner().run(
            "sh", ["-c", "head -c 10 >/dev/null; exit 3"], streamingInput: { emit in for _ in 0..<4 { try emit(megabyte) } })
        #expect(failing.exitStatus == 3)
        do {
            _ = try await CommandRunner().run("true", [], streamingInput: { emit in for _ in 0..<4 { try emit(megabyte) } })
            Issue.record("a tool that read nothing succeeded")
        } catch {
            #expect(error.kind == .systemCall(errno: EPIPE))
        }
    }

    /// The pipe is written with `SIGPIPE` blocked on the writing thread, so a tool that is gone
    /// turns a write into `EPIPE` even where `SIGPIPE` is at its default (this test process
    /// ignores it, as the proxy does, so the outcome test above cannot tell). The producer runs
    /// on that thread and reads the thread's mask.
    @Test func theThreadWritingTheInputHasSIGPIPEBlocked() async throws {
        let blocked = Mutex<Bool?>(nil)
        _ = try await CommandRunner().run(
            "cat", [],
            streamingInput: { emit in
                var current = sigset_t()
                sigemptyset(&current)
                pthread_sigmask(SIG_BLOCK, nil, &current)
                let isBlocked = sigismember(&current, SIGPIPE) == 1
                blocked.withLock { $0 = isBlocked }
                try emit("x")
            }
        ).checked()
        #expect(blocked.withLock { $0 } == true)
    }

    /// Children get descriptors 0-2 only, every signal at its default and none blocked, whatever
    /// the proxy itself holds, ignores or blocks.
    @Test func childrenInheritNoDescriptorsAndDefaultSignals() async throws {
        let leaked = open("/dev/null", O_RDONLY)  // no O_CLOEXEC on purpose
        try #require(leaked >= 0)
        defer { close(leaked) }
        // Ignored for good, as the proxy has it (SwiftNIO ignores SIGPIPE process-wide with its
        // first socket). Restoring the default afterwards would undo NIO's one-time setting under
        // every later test, and the next write to a closed socket would kill the test process.
        _ = signal(SIGPIPE, SIG_IGN)
        let descriptors = try await CommandRunner().run("sh", ["-c", "ls /proc/$$/fd"]).checked()
        let open = descriptors.stdout.split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(!open.contains(Int(leaked)), "descriptors seen by the child: \(open)")
        #expect(Array(open.prefix(3)) == [0, 1, 2])
        let status = try await CommandRunner().run("grep", ["-E", "^Sig(Ign|Blk)", "/proc/self/status"]).checked()
        // Signals 1-31; glibc keeps its own real-time signals (32, 33) out of every full set.
        func standardSignals(_ field: String) -> UInt64? {
            let line = status.stdout.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            return line.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }.map { $0 & 0x7fff_ffff }
        }
        #expect(standardSignals("SigIgn") == 0, "\(status.stdout)")
        #expect(standardSignals("SigBlk") == 0, "\(status.stdout)")
    }

    @Test func deathBySignalIsReportedAsTheSignal() async throws {
        let output = try await CommandRunner().run("sh", ["-c", "kill -TERM $$"])
        #expect(output.signal == SIGTERM)
        #expect(!output.succeeded)
        #expect(throws: HostError.self) { try output.checked() }
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
