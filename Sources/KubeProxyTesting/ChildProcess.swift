import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program started by a test, with its output captured line by line.
///
/// Tests must never leave processes behind: `terminate()` kills by PID (SIGKILL after a grace
/// period) and `deinit` does the same as a last resort, so a failing `#expect` cannot leak a
/// proxy or a backend into the next test.
///
/// The output is read by a thread of its own with blocking reads, so a process can have exited
/// while its last lines still sit in the pipe. `waitForExit` and `terminate` therefore also wait
/// (up to ``drainTimeout``) until the reader saw end-of-file: a test that asserts on `output`
/// after either of them sees everything the process printed.
public final class ChildProcess: @unchecked Sendable {
    /// How long `waitForExit`/`terminate` wait for the pipe to drain after the process exited.
    /// End-of-file normally follows the exit at once; the bound only matters when a grandchild
    /// inherited the pipe and keeps it open.
    public static let drainTimeout: Duration = .seconds(5)

    private let process = Process()
    private let captured = CapturedOutput()
    private let pipe = Pipe()
    /// The command line, for messages.
    public let commandLine: String

    /// Starts `executable` with `arguments`; stdout and stderr are merged into `output`.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        commandLine = ([executable] + arguments).joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The thread holds the read end and the buffer, not `self`, so dropping a ChildProcess
        // still runs `deinit` (which kills the process, which ends the thread).
        let reader = Thread { [handle = pipe.fileHandleForReading, captured] in
            captured.readToEnd(handle.fileDescriptor)
            withExtendedLifetime(handle) {}
        }
        reader.name = "ChildProcess output"
        reader.start()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Whether the reader saw end-of-file, i.e. `output` holds everything the process printed.
    public var outputComplete: Bool { captured.isComplete }

    /// Waits until the reader saw end-of-file, at most `timeout`.
    private func waitForOutputComplete(timeout: Duration = ChildProcess.drainTimeout) async {
        let deadline = ContinuousClock.now + timeout
        while !outputComplete && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether it is still running.
    public var isRunning: Bool { process.isRunning }

    /// Every complete line printed so far; once the output is complete, also a last line that
    /// lacked its newline.
    public var output: [String] { captured.lines }

    /// Waits until a line satisfying `predicate` appears (searching from line `from`), or the timeout.
    /// Returns the line, or nil on timeout or exit.
    public func waitForLine(
        from: Int = 0, timeout: Duration = .seconds(10), where predicate: (String) -> Bool
    ) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let snapshot = output
            if snapshot.count > from, let line = snapshot[from...].first(where: predicate) { return line }
            if !process.isRunning {
                await waitForOutputComplete()
                return output.dropFirst(from).first(where: predicate)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for exit and for the output to be read to its
    /// end (at most ``drainTimeout``), and returns the exit status.
    @discardableResult
    public func terminate(grace: Duration = .seconds(3)) async -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + grace
            while process.isRunning && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        await waitForOutputComplete()
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself (up to `timeout`), then for its output to be read
    /// to the end (at most ``drainTimeout``), and returns its status; nil if it is still running.
    public func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { return nil }
        process.waitUntilExit()
        await waitForOutputComplete()
        return process.terminationStatus
    }
}

/// The lines read from a child's pipe, shared between the reader thread and the test.
private final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var complete: [String] = []
    private var partial = Data()
    private var reachedEndOfFile = false

    var lines: [String] { lock.withLock { complete } }
    var isComplete: Bool { lock.withLock { reachedEndOfFile } }

    /// Reads `descriptor` until end-of-file (or an error other than EINTR), then keeps a last
    /// line that lacks its newline and marks the output complete.
    func readToEnd(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                append(buffer[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        lock.withLock {
            if !partial.isEmpty { complete.append(String(decoding: partial, as: UTF8.self)) }
            partial.removeAll()
            reachedEndOfFile = true
        }
    }

    private func append(_ bytes: ArraySlice<UInt8>) {
        lock.withLock {
            partial.append(contentsOf: bytes)
            var start = partial.startIndex
            while let newline = partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
                complete.append(String(decoding: partial[start..<newline], as: UTF8.self))
                start = partial.index(after: newline)
            }
            partial.removeSubrange(partial.startIndex..<start)
        }
    }
}

/// Finds the products of this package's build, next to the running test bundle.
public enum BuiltProducts {
    /// The directory holding `kube-proxy` and `example-backend` (override with `KUBE_PROXY_BIN_DIR`).
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["KUBE_PROXY_BIN_DIR"] { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the bundle is `<dir>/Package.xctest`; on Darwin it sits deeper inside `.xctest/Contents/MacOS`.
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("kube-proxy").path) {
            url = url.deletingLastPathComponent()
        }
        return url.path
    }

    /// Absolute path of a product.
    public static func path(_ name: String) -> String { directory + "/" + name }
}
