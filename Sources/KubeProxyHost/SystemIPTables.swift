import KubeProxyCore
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The real `IPTablesExecutor`: runs `iptables-save` / `iptables-restore --noflush -w N` (or
/// the `ip6tables-*` pair), optionally inside a network namespace.
public struct SystemIPTables: IPTablesExecutor {
    /// How commands are run (and in which namespace).
    public var runner: CommandRunner
    /// Seconds `iptables-restore` waits for the xtables lock (`-w`), so two writers (us and,
    /// say, a CNI plugin) queue instead of failing.
    public var lockWaitSeconds: Int
    /// Where commands and failures are logged (debug / error level).
    public var logger: Logger
    /// The `iptables-restore` arguments; `nil` means `--noflush -w <lockWaitSeconds>`.
    /// iptables mode uses upstream's `-w 5 -W 100000 --noflush --counters`.
    public var restoreArguments: [String]?

    /// Creates an executor; `netns` runs every command via `ip netns exec NAME`.
    public init(
        netns: String? = nil, lockWaitSeconds: Int = 5,
        logger: Logger = Logger(label: "kube-proxy.iptables", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.runner = CommandRunner(netns: netns)
        self.lockWaitSeconds = lockWaitSeconds
        self.logger = logger
    }

    /// `iptables-save` or `ip6tables-save`.
    public static func saveTool(_ family: IPFamily) -> String { family == .ipv4 ? "iptables-save" : "ip6tables-save" }
    /// `iptables-restore` or `ip6tables-restore`.
    public static func restoreTool(_ family: IPFamily) -> String { family == .ipv4 ? "iptables-restore" : "ip6tables-restore" }

    /// Runs the family's save tool; a failure is logged here too, since callers retry quietly.
    public func save(family: IPFamily) async throws -> String {
        let output = try await runner.run(Self.saveTool(family), [])
        do {
            return try output.checked().stdout
        } catch {
            logger.error("iptables-save failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// Applies `input` through `restore(streaming:family:)` as its only piece, so both forms
    /// share the arguments, the line count in the debug line and the error log.
    public func restore(_ input: String, family: IPFamily) async throws {
        try await restore(streaming: { emit in try emit(input) }, family: family)
    }

    /// Runs the family's restore tool over the pieces `write` emits (each goes into the tool's
    /// stdin as it is produced); the one place restores are counted, logged and checked.
    public func restore(
        streaming write: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void, family: IPFamily
    ) async throws {
        let arguments = restoreArguments ?? ["--noflush", "-w", String(lockWaitSeconds)]
        let logger = logger
        // Counted while the pieces go into the tool's stdin, logged once they are all in (the
        // benchmark sums these lines, whichever form wrote them).
        let counted: @Sendable (_ emit: (String) throws -> Void) throws -> Void = { emit in
            var lines = 0
            try write { piece in
                lines += piece.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                try emit(piece)
            }
            logger.debug("running iptables-restore", metadata: ["family": "\(family)", "lines": "\(lines)"])
        }
        let output = try await runner.run(Self.restoreTool(family), arguments, streamingInput: counted)
        do {
            _ = try output.checked()
        } catch {
            logger.error("iptables-restore failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// True when both tools exist, we run as root, and (with a namespace) `ip` exists.
    public func isAvailable(family: IPFamily) -> Bool {
        guard geteuid() == 0 else { return false }
        guard runner.locate(Self.saveTool(family)) != nil, runner.locate(Self.restoreTool(family)) != nil else { return false }
        return runner.netns == nil || runner.locate("ip") != nil
    }
}
