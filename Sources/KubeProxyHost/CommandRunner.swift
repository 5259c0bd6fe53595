import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs host tools — never through a shell — optionally inside a network namespace.
///
/// Why it looks like this:
/// - stdin, stdout and stderr are anonymous temporary files (created with `mkstemp` and
///   unlinked at once), not pipes: the child can write megabytes of `iptables-save` output
///   without anyone reading concurrently, a child that exits early cannot SIGPIPE us, and
///   there is no read/write ordering to get wrong, hence no deadlock.
/// - Each run blocks one dedicated thread, never a Swift-concurrency or NIO thread.
/// - With `netns` set, every command becomes `ip netns exec NAME /abs/tool args…`; tests and
///   the end-to-end harness use that to keep the host's own namespace untouched.
public struct CommandRunner: Sendable {
    /// Where tools are looked for, in order.
    public static let defaultSearchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"]

    /// The network namespace to run in (`ip netns exec`), or `nil` for the current one.
    public var netns: String?
    /// Directories searched for tools.
    public var searchPath: [String]

    /// Creates a runner.
    public init(netns: String? = nil, searchPath: [String] = CommandRunner.defaultSearchPath) {
        self.netns = netns
        self.searchPath = searchPath
    }

    /// The absolute path of `tool`, or `nil` when it is not an executable on the search path.
    public func locate(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        for directory in searchPath {
            let path = directory + "/" + tool
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// The command line as it is shown in errors and logs.
    public func commandLine(_ tool: String, _ arguments: [String]) -> [String] {
        (netns.map { ["ip", "netns", "exec", $0] } ?? []) + [tool] + arguments
    }

    /// Runs `tool` with `arguments`, feeding `input` on stdin, and waits for it to finish.
    ///
    /// Throws only when the program cannot be found or started; a non-zero exit is reported in
    /// the returned output (use `checked()`), because some tools (conntrack) use exit 1 for
    /// "nothing to do".
    public func run(_ tool: String, _ arguments: [String], input: String? = nil) async throws(HostError) -> CommandOutput {
        let display = commandLine(tool, arguments)
        guard let toolPath = locate(tool) else { throw HostError(.executableNotFound, command: display) }
        var executable = toolPath
        var argv = arguments
        if let netns {
            guard let ip = locate("ip") else { throw HostError(.executableNotFound, command: display) }
            executable = ip
            argv = ["netns", "exec", netns, toolPath] + arguments
        }
        let launch = ProcessLaunch(executable: executable, arguments: argv, input: input, display: display)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CommandOutput, HostError>, Never>) in
            let thread = Thread { continuation.resume(returning: launch.execute()) }
            thread.name = "kube-proxy-exec"
            thread.start()
        }
        return try result.get()
    }
}

/// One blocking program execution with file-backed standard streams.
struct ProcessLaunch: Sendable {
    let executable: String
    let arguments: [String]
    let input: String?
    let display: [String]

    func execute() -> Result<CommandOutput, HostError> {
        let files: (stdin: FileHandle, stdout: FileHandle, stderr: FileHandle)
        do {
            files = (try TemporaryFile.make(contents: input ?? ""), try TemporaryFile.make(), try TemporaryFile.make())
        } catch {
            return .failure(error)
        }
        defer {
            try? files.stdin.close()
            try? files.stdout.close()
            try? files.stderr.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = files.stdin
        process.standardOutput = files.stdout
        process.standardError = files.stderr
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        // Foundation's `Process.run` ignores a failing `socketpair` and then watches descriptor 0
        // (a SIGILL in libdispatch under EMFILE): make sure a pair can be had right now.
        var probe: [Int32] = [-1, -1]
        #if canImport(Glibc)
            let stream = Int32(SOCK_STREAM.rawValue)
        #else
            let stream = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, stream, 0, &probe) == 0 else {
            return .failure(HostError(.systemCall(errno: errno), command: ["socketpair"] + display))
        }
        close(probe[0])
        close(probe[1])
        do {
            try process.run()
        } catch {
            return .failure(HostError(.launchFailed(String(describing: error)), command: display))
        }
        finished.wait()
        let stdout = TemporaryFile.readAll(files.stdout)
        let stderr = TemporaryFile.readAll(files.stderr)
        let signal: Int32? = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        return .success(
            CommandOutput(command: display, stdout: stdout, stderr: stderr, exitStatus: process.terminationStatus, signal: signal))
    }
}

/// Anonymous temporary files: created, unlinked immediately, used through their descriptor.
enum TemporaryFile {
    /// A new empty (or `contents`-filled, rewound) anonymous file.
    static func make(contents: String = "") throws(HostError) -> FileHandle {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((directory + "/kube-proxy-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else { throw HostError(.systemCall(errno: errno), command: ["mkstemp", directory]) }
        template.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { _ = unlink(base) }
        }
        // Written from the string's own UTF-8 storage: a 10k-Service restore is tens of MiB,
        // and a copy would add that much to the peak.
        var text = contents
        let failure = text.withUTF8 { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let code = failure {
            close(fd)
            throw HostError(.systemCall(errno: code), command: ["write", directory])
        }
        lseek(fd, 0, SEEK_SET)
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Everything in the file, from the start, as UTF-8 text.
    static func readAll(_ handle: FileHandle) -> String {
        lseek(handle.fileDescriptor, 0, SEEK_SET)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
