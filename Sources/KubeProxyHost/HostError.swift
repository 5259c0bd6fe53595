import KubeProxyCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why an operation on the host failed: the one error type of this module.
///
/// Carries what an operator needs to reproduce the failure by hand — the full command line
/// (including any `ip netns exec` prefix), the exit status and the last lines the tool wrote to
/// stderr (iptables-restore names the failing line there).
public struct HostError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// The program is not on the search path.
        case executableNotFound
        /// The program could not be started (message from the system).
        case launchFailed(String)
        /// The program exited with a non-zero status.
        case exitStatus(Int32)
        /// The program was killed by a signal.
        case signal(Int32)
        /// A system call failed with `errno`.
        case systemCall(errno: Int32)
        /// No usable default route of this family (docs/userspace-behaviour.md#host-address).
        case noDefaultRoute(IPFamily)
        /// A file could not be read.
        case unreadableFile
        /// The kernel answered a netlink request with this error (a positive errno).
        case netlink(errno: Int32)
        /// A netlink answer that does not parse (what is wrong with it).
        case malformedReply(String)
        /// A value the request cannot carry (what is wrong with it).
        case invalidArgument(String)
    }

    /// What went wrong.
    public var kind: Kind
    /// The command line, system call name or file path involved.
    public var command: [String]
    /// The end of the program's stderr (at most `stderrTailLimit` characters), empty if none.
    public var stderrTail: String

    /// How much of stderr is kept.
    public static let stderrTailLimit = 2048

    /// Creates an error, trimming `stderr` to its tail.
    public init(_ kind: Kind, command: [String], stderr: String = "") {
        self.kind = kind
        self.command = command
        let trimmed = stderr.trimmingTrailingNewlines()
        self.stderrTail = trimmed.count > Self.stderrTailLimit ? String(trimmed.suffix(Self.stderrTailLimit)) : trimmed
    }

    public var description: String {
        let line = command.joined(separator: " ")
        let what: String
        switch kind {
        case .executableNotFound: what = "executable not found"
        case .launchFailed(let message): what = "could not start: \(message)"
        case .exitStatus(let status): what = "exit status \(status)"
        case .signal(let signal): what = "killed by signal \(signal)"
        case .systemCall(let errno): what = "failed with errno \(errno)"
        case .noDefaultRoute(let family): what = "no default route for \(family)"
        case .unreadableFile: what = "could not read file"
        case .netlink(let errno): what = "kernel answered errno \(errno) (\(String(cString: strerror(errno))))"
        case .malformedReply(let problem): what = "malformed reply: \(problem)"
        case .invalidArgument(let problem): what = "invalid argument: \(problem)"
        }
        return stderrTail.isEmpty ? "\(line): \(what)" : "\(line): \(what): \(stderrTail)"
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" || last == " " { s.removeLast() }
        return String(s)
    }
}
