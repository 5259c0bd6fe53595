/// What a finished program produced.
public struct CommandOutput: Hashable, Sendable {
    /// The full command line that ran (with any `ip netns exec` prefix).
    public var command: [String]
    /// Everything written to stdout.
    public var stdout: String
    /// Everything written to stderr.
    public var stderr: String
    /// The exit status; when killed by a signal, `signal` is set and this is meaningless.
    public var exitStatus: Int32
    /// The terminating signal, if the program did not exit normally.
    public var signal: Int32?

    /// Creates an output record.
    public init(command: [String], stdout: String, stderr: String, exitStatus: Int32, signal: Int32? = nil) {
        self.command = command
        self.stdout = stdout
        self.stderr = stderr
        self.exitStatus = exitStatus
        self.signal = signal
    }

    /// Whether the program exited normally with status 0.
    public var succeeded: Bool { signal == nil && exitStatus == 0 }

    /// The output itself when the program succeeded, else a `HostError` with the stderr tail.
    public func checked() throws(HostError) -> CommandOutput {
        if let signal { throw HostError(.signal(signal), command: command, stderr: stderr) }
        guard exitStatus == 0 else { throw HostError(.exitStatus(exitStatus), command: command, stderr: stderr) }
        return self
    }
}
