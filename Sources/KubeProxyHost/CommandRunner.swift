import CKubeProxyLinux
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs host tools — never through a shell — optionally inside a network namespace.
///
/// Why it looks like this:
/// - stdout and stderr are anonymous temporary files (created with `mkstemp` and unlinked at
///   once), not pipes: the child can write megabytes of `iptables-save` output without anyone
///   reading concurrently, so nothing waits on both ends of a pipe. stdin is a pipe the run's
///   own thread writes while the child reads, so `iptables-restore` parses while the portal
///   rules are still being produced (`SIGPIPE` is blocked on that thread; a reader that is gone
///   is `EPIPE`).
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
        let text = input ?? ""
        return try await run(tool, arguments, stdin: { emit in if !text.isEmpty { try emit(text) } })
    }

    /// Runs `tool` with stdin written piecewise by `writeInput` (each piece goes into the
    /// tool's stdin pipe on the command's own thread, while the tool reads), so a large input
    /// never has to exist as one String. An error thrown by `writeInput` kills the tool before
    /// it can see the end of its input and fails the run.
    public func run(
        _ tool: String, _ arguments: [String],
        streamingInput writeInput: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void
    ) async throws(HostError) -> CommandOutput {
        try await run(tool, arguments, stdin: writeInput)
    }

    private func run(_ tool: String, _ arguments: [String], stdin: @escaping ProcessLaunch.Input) async throws(HostError) -> CommandOutput {
        let display = commandLine(tool, arguments)
        guard let toolPath = locate(tool) else { throw HostError(.executableNotFound, command: display) }
        var executable = toolPath
        var argv = arguments
        if let netns {
            guard let ip = locate("ip") else { throw HostError(.executableNotFound, command: display) }
            executable = ip
            argv = ["netns", "exec", netns, toolPath] + arguments
        }
        let launch = ProcessLaunch(executable: executable, arguments: argv, input: stdin, display: display)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CommandOutput, HostError>, Never>) in
            let thread = Thread { continuation.resume(returning: launch.execute()) }
            thread.name = "kube-proxy-exec"
            thread.start()
        }
        return try result.get()
    }
}

/// One blocking program execution: stdout and stderr go to unlinked temporary files, stdin is a
/// pipe the input's pieces are written into while the program reads them.
///
/// Started with `posix_spawn` (`ckp_spawn`) and reaped with `waitpid` on the calling thread,
/// not with Foundation's `Process`: with 15,000 listening sockets open, `Process.run` took
/// 20-40 ms scanning `/proc/self/fd` for each `iptables-save` and `iptables-restore` of a sync,
/// and it ignored a failed `socketpair` under `EMFILE` and then crashed in libdispatch.
struct ProcessLaunch: Sendable {
    /// What the program reads on stdin: the pieces this closure emits, in order (a text input
    /// is one piece).
    typealias Input = @Sendable (_ emit: (String) throws -> Void) throws -> Void

    let executable: String
    let arguments: [String]
    let input: Input
    let display: [String]

    func execute() -> Result<CommandOutput, HostError> {
        let files: (stdout: FileHandle, stderr: FileHandle)
        do {
            files = (try TemporaryFile.make(), try TemporaryFile.make())
        } catch {
            return .failure(error)
        }
        defer {
            try? files.stdout.close()
            try? files.stderr.close()
        }
        return stream(input, stdout: files.stdout.fileDescriptor, stderr: files.stderr.fileDescriptor).map { status in
            CommandOutput(
                command: display, stdout: TemporaryFile.readAll(files.stdout), stderr: TemporaryFile.readAll(files.stderr),
                exitStatus: status.code, signal: status.signal)
        }
    }

    /// Runs the program with a pipe as stdin and writes the pieces into it as they come, so the
    /// program parses while the rest is produced. A producer that fails kills the program
    /// before it can see the end of its input (it never acts on a truncated input as if whole);
    /// a program that exits before reading everything is reported by its own exit status, or as
    /// `EPIPE` if it claimed success.
    private func stream(
        _ writeInput: (_ emit: (String) throws -> Void) throws -> Void, stdout: Int32, stderr: Int32
    ) -> Result<WaitStatus, HostError> {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return .failure(HostError(.systemCall(errno: errno), command: ["pipe"] + display)) }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        let spawned = spawn(stdin: ends[0], stdout: stdout, stderr: stderr)
        close(ends[0])
        let pid: pid_t
        switch spawned {
        case .success(let started): pid = started
        case .failure(let error):
            close(ends[1])
            return .failure(error)
        }
        // A write to a pipe whose reader is gone raises SIGPIPE in the writing thread, which
        // would end the whole proxy: blocked here, it stays pending on this short-lived thread
        // and the write fails with EPIPE instead.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        var readerGone = false
        do {
            try writeInput { piece in
                guard !readerGone else { return }
                do throws(HostError) {
                    try Self.writeAll(piece, to: ends[1])
                } catch {
                    guard error.kind == .systemCall(errno: EPIPE) else { throw error }
                    readerGone = true
                }
            }
        } catch {
            kill(pid, SIGKILL)
            close(ends[1])
            _ = Self.wait(pid)
            if let error = error as? HostError { return .failure(error) }
            return .failure(HostError(.launchFailed("could not produce the input: \(error)"), command: display))
        }
        close(ends[1])
        let status = Self.wait(pid)
        if readerGone, status.signal == nil, status.code == 0 {
            // It claimed success without reading all of its input: what it did not read was
            // not applied.
            return .failure(HostError(.systemCall(errno: EPIPE), command: display))
        }
        return .success(status)
    }

    private func spawn(stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, HostError> {
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid: Int32 = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvPointer in
            ckp_spawn(&pid, executable, argvPointer.baseAddress, environ, stdin, stdout, stderr)
        }
        guard result == 0 else {
            return .failure(HostError(.launchFailed(String(cString: strerror(result))), command: display))
        }
        return .success(pid)
    }

    /// Writes all of `text` into the stdin pipe `fd`, from the string's own UTF-8 storage (no
    /// copy: transactions can be tens of megabytes).
    static func writeAll(_ text: String, to fd: Int32) throws(HostError) {
        var text = text
        let failure: Int32? = text.withUTF8 { buffer -> Int32? in
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
        if let failure { throw HostError(.systemCall(errno: failure), command: ["write", "stdin pipe"]) }
    }

    /// How a child ended.
    struct WaitStatus {
        /// The exit status, or the signal number when `signal` is set.
        var code: Int32
        /// The terminating signal, if it did not exit normally.
        var signal: Int32?
    }

    /// Reaps `pid` (retrying `EINTR`) and decodes the status as `WIFEXITED`/`WTERMSIG` do.
    static func wait(_ pid: pid_t) -> WaitStatus {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            guard errno == EINTR else { return WaitStatus(code: -1, signal: nil) }
        }
        let low = raw & 0x7f
        if low == 0 { return WaitStatus(code: (raw >> 8) & 0xff, signal: nil) }
        return WaitStatus(code: low, signal: low)
    }
}

/// Anonymous temporary files: created, unlinked immediately, used through their descriptor.
enum TemporaryFile {
    /// A new empty anonymous file.
    static func make() throws(HostError) -> FileHandle {
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
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Everything in the file, from the start, as UTF-8 text.
    static func readAll(_ handle: FileHandle) -> String {
        lseek(handle.fileDescriptor, 0, SEEK_SET)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
