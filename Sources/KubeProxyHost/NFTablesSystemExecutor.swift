import KubeProxyCore
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The real `NFTablesExecutor`: runs `nft`, optionally inside a network namespace.
public struct SystemNFTables: NFTablesExecutor {
    /// How commands are run (and in which namespace).
    public var runner: CommandRunner
    /// Where commands and failures are logged.
    public var logger: Logger

    /// Creates an executor; `netns` runs every command via `ip netns exec NAME`.
    public init(netns: String? = nil, logger: Logger = Logger(label: "kube-proxy.nftables", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.runner = CommandRunner(netns: netns)
        self.logger = logger
    }

    public func run(_ transaction: String) async throws {
        logger.debug("running nft -f -", metadata: ["lines": "\(transaction.utf8.count { $0 == UInt8(ascii: "\n") })"])
        let output = try await runner.run("nft", ["-f", "-"], input: transaction)
        do {
            _ = try output.checked()
        } catch {
            logger.error("nft transaction failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    public func run(streaming write: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void) async throws {
        logger.debug("running nft -f - (streamed input)")
        let output = try await runner.run("nft", ["-f", "-"], streamingInput: write)
        do {
            _ = try output.checked()
        } catch {
            logger.error("nft transaction failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    public func listTable(family: IPFamily, name: String) async throws -> String? {
        let output = try await runner.run("nft", ["-j", "list", "table", family.nftFamily, name])
        if !output.succeeded && Self.isNoSuchTable(output) { return nil }
        return try output.checked().stdout
    }

    @discardableResult
    public func deleteTable(family: IPFamily, name: String) async throws -> Bool {
        let output = try await runner.run("nft", ["delete", "table", family.nftFamily, name])
        if !output.succeeded && Self.isNoSuchTable(output) { return false }
        _ = try output.checked()
        return true
    }

    /// True when nft exists, we run as root, and (with a namespace) `ip` exists.
    public func isAvailable() -> Bool {
        guard geteuid() == 0, runner.locate("nft") != nil else { return false }
        return runner.netns == nil || runner.locate("ip") != nil
    }

    /// nft's answer for a missing table: exit 1 and ENOENT's message.
    static func isNoSuchTable(_ output: CommandOutput) -> Bool {
        output.signal == nil && output.exitStatus == 1 && output.stderr.contains("No such file or directory")
    }
}
