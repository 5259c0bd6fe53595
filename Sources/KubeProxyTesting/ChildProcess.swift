import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program started by a test, with its output captured line by line.
///
/// Tests must never leave processes behind: `terminate()` kills by PID (SIGKILL after a grace
/// period) and `deinit` does the same as a last resort, so a failing `#expect` cannot leak a
/// proxy or a backend into the next test.
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()
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
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.append(data)
        }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        pipe.fileHandleForReading.readabilityHandler = nil
    }

    private func append(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        partial.append(data)
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
            lines.append(line)
            partial.removeSubrange(partial.startIndex...newline)
        }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether it is still running.
    public var isRunning: Bool { process.isRunning }

    /// Every complete line printed so far.
    public var output: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

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
                try? await Task.sleep(for: .milliseconds(100))  // let the reader drain the pipe
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

    /// SIGTERM, then SIGKILL after `grace`; waits for exit and returns the exit status.
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
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself (up to `timeout`), then returns its status or nil.
    public func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { return nil }
        process.waitUntilExit()
        return process.terminationStatus
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
