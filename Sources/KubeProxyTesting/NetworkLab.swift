import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small cluster made of network namespaces on one machine, for end-to-end tests that need
/// real packets and real iptables: a node, pods, clients, wired with veth pairs and routes.
///
/// Safety (the project's hard rule): every namespace is created here, none is linked to the
/// host's own namespace, and `destroy()` (also run from `deinit`, so a failed `#expect` cannot
/// leak one) kills every process started in the lab by PID and deletes every namespace.
public final class NetworkLab: @unchecked Sendable {
    /// Why the lab cannot run here, or nil when it can (root, `ip`, `iptables` present).
    public static var unavailableReason: String? {
        if geteuid() != 0 { return "network-namespace tests need root (skipped: not running as root)" }
        for (tool, package) in [("ip", "iproute2"), ("iptables", "iptables"), ("iptables-save", "iptables")]
        where which(tool) == nil {
            return "network-namespace tests need \(tool) (install the \(package) package)"
        }
        return nil
    }

    /// The full path of `tool` on PATH (plus the sbin directories), or nil.
    public static func which(_ tool: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/local/sbin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A command that failed.
    public struct CommandError: Error, CustomStringConvertible {
        /// The command line.
        public let command: String
        /// Exit status.
        public let status: Int32
        /// Its output.
        public let output: String
        public var description: String { "`\(command)` exited \(status): \(output)" }
    }

    /// Unique per lab, so parallel tests never share a namespace.
    public let id: String
    private let lock = NSLock()
    private var namespaces: [String] = []
    private var processes: [ChildProcess] = []
    private var destroyed = false
    /// Links made so far: numbers the veth names, so two links made between the same
    /// namespace additions still get distinct names.
    private var links = 0

    /// Creates an empty lab. Its id starts with this process's PID, so a later lab can tell a
    /// namespace left by a test process that died without cleaning up (a crash runs no `defer`
    /// and no `deinit`) from one a live run still uses, and delete it.
    public init() {
        id = "\(getpid())-" + String(UUID().uuidString.prefix(4)).lowercased()
        Self.sweepOrphansOnce()
    }

    private static let swept = NSLock()
    nonisolated(unsafe) private static var didSweep = false

    /// Once per process: deletes `kp-<pid>-…` namespaces whose creating process is gone, and
    /// whatever still runs in them.
    private static func sweepOrphansOnce() {
        let first = swept.withLock { () -> Bool in
            defer { didSweep = true }
            return !didSweep
        }
        guard first, let list = try? run(["ip", "netns", "list"]) else { return }
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            let parts = name.split(separator: "-")
            guard parts.count >= 3, parts[0] == "kp", let pid = Int32(parts[1]), pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            if let pids = try? run(["ip", "netns", "pids", name]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? run(["ip", "netns", "delete", name])
        }
    }

    deinit { destroy() }

    /// Runs `arguments[0]` with the rest, waits, returns its output; throws on non-zero exit.
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        guard let exe = arguments.first.flatMap({ $0.hasPrefix("/") ? $0 : which($0) }) else {
            throw CommandError(command: arguments.joined(separator: " "), status: 127, output: "not found")
        }
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = Array(arguments.dropFirst())
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw CommandError(command: arguments.joined(separator: " "), status: process.terminationStatus, output: text)
        }
        return text
    }

    /// Creates a namespace named `kp-<lab id>-<role>` with loopback up; returns its name.
    public func addNamespace(_ role: String) throws -> String {
        let name = "kp-\(id)-\(role)"
        try Self.run(["ip", "netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try exec(name, ["ip", "link", "set", "lo", "up"])
        return name
    }

    /// Runs a command inside namespace `ns`.
    @discardableResult
    public func exec(_ ns: String, _ arguments: [String], input: String? = nil) throws -> String {
        try Self.run(["ip", "netns", "exec", ns] + arguments, input: input)
    }

    /// Connects two namespaces with a veth pair and gives each end an address (`a.b.c.d/len`).
    public func link(_ nsA: String, _ addressA: String, _ nsB: String, _ addressB: String) throws {
        let n = lock.withLock { () -> Int in
            links += 1
            return links
        }
        let ifA = "v\(id.prefix(4))a\(n)", ifB = "v\(id.prefix(4))b\(n)"
        // Create the pair directly inside the first namespace so no end ever sits in the host's.
        try exec(nsA, ["ip", "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB])
        try exec(nsA, ["ip", "addr", "add", addressA, "dev", ifA])
        try exec(nsB, ["ip", "addr", "add", addressB, "dev", ifB])
        try exec(nsA, ["ip", "link", "set", ifA, "up"])
        try exec(nsB, ["ip", "link", "set", ifB, "up"])
    }

    /// Starts a long-running program inside `ns`; it is killed by `destroy()`.
    public func start(_ ns: String, _ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let process = try ChildProcess(
            executable: Self.which("ip") ?? "/usr/sbin/ip", arguments: ["netns", "exec", ns, executable] + arguments)
        lock.withLock { processes.append(process) }
        return process
    }

    /// Kills every process started here (SIGKILL, by PID) and deletes every namespace. Idempotent.
    public func destroy() {
        let (procs, names) = lock.withLock { () -> ([ChildProcess], [String]) in
            if destroyed { return ([], []) }
            destroyed = true
            return (processes, namespaces)
        }
        for process in procs { process.send(SIGKILL) }
        for process in procs { _ = process.waitForExitBlocking() }
        for name in names.reversed() {
            // Anything still running in the namespace (e.g. a child of a test process) goes too.
            if let pids = try? Self.run(["ip", "netns", "pids", name]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? Self.run(["ip", "netns", "delete", name])
        }
    }
}

extension ChildProcess {
    /// Blocks until the process has exited (used from `deinit` paths that cannot await).
    func waitForExitBlocking() -> Int32? {
        for _ in 0..<200 where isRunning { usleep(10_000) }
        return isRunning ? nil : 0
    }
}
