import Foundation
import KubeProxyTesting
import Testing

/// The harness itself: what a test reads from `output` after the process is gone.
struct ChildProcessTests {
    /// More than a pipe buffer (64 KiB) of lines, so the child blocks on the pipe, then exits
    /// the moment its last write lands: the last lines are still unread when it is reaped.
    static let lineCount = 20_000

    /// Runs often, because losing the tail was a race that struck about one run in seven.
    @Test func waitForExitReturnsTheWholeOutputOfAChildThatExitsAtOnce() async throws {
        for run in 1...40 {
            let child = try ChildProcess(executable: "/usr/bin/seq", arguments: ["1", "\(Self.lineCount)"])
            let status = await child.waitForExit()
            #expect(status == 0, "run \(run)")
            #expect(child.outputComplete, "run \(run)")
            let output = child.output
            #expect(output.count == Self.lineCount, "run \(run): \(output.count) lines")
            #expect(output.last == "\(Self.lineCount)", "run \(run): last line \(output.last ?? "none")")
        }
    }

    @Test func terminateReturnsTheWholeOutputToo() async throws {
        for run in 1...20 {
            let child = try ChildProcess(
                executable: "/bin/sh", arguments: ["-c", "seq 1 \(Self.lineCount); exec sleep 30"])
            #expect(await child.waitForLine(where: { $0 == "\(Self.lineCount)" }) != nil, "run \(run)")
            await child.terminate()
            #expect(child.outputComplete, "run \(run)")
            #expect(child.output.count == Self.lineCount, "run \(run): \(child.output.count) lines")
        }
    }

    /// A last line without a newline is not lost once the output is complete.
    @Test func anUnterminatedLastLineIsKept() async throws {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "printf 'first\\nlast'"])
        #expect(await child.waitForExit() == 0)
        #expect(child.output == ["first", "last"])
    }
}
