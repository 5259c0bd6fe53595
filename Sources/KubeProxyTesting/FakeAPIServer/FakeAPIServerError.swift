/// Why setting up the fake API server's environment failed: the certificate tooling or files.
public enum FakeAPIServerError: Error, Sendable, CustomStringConvertible {
    /// The `openssl` command-line tool is not installed.
    case opensslMissing
    /// A command exited non-zero.
    case commandFailed(command: String, status: Int32, stderrTail: String)
    /// A file could not be written or read.
    case file(path: String, reason: String)

    /// What failed and how to fix it.
    public var description: String {
        switch self {
        case .opensslMissing:
            "the openssl command-line tool was not found in PATH (install the Debian package `openssl`)"
        case .commandFailed(let command, let status, let stderrTail):
            "\(command) exited with status \(status): \(stderrTail)"
        case .file(let path, let reason):
            "\(path): \(reason)"
        }
    }
}
