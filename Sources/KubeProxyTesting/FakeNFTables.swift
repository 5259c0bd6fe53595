import KubeProxyCore
import KubeProxyHost
import KubeProxyNFTables
import Synchronization

/// An `NFTablesExecutor` that keeps real tables in memory.
///
/// `run` parses the very text `nft -f -` would get and applies it with the kernel's rules
/// (see `FakeNFTable`): all or nothing, so a failing transaction changes nothing. Failures are
/// `HostError`s shaped like the real ones (command, exit status 1, nft's message naming the
/// line). `listTable` prints `nft -j list table` JSON that `NFTKernelState(parsingJSON:)`
/// reads like the real output. Every transaction is recorded, so tests can count operations.
public final class FakeNFTables: NFTablesExecutor, Sendable {
    /// Tables and bookkeeping, behind one lock.
    struct State {
        var tables: [String: FakeNFTable] = [:]
        var transactions: [NFTTransaction] = []
        var pendingFailures: [HostError] = []
        var available = true
    }

    private let state = Mutex(State())

    /// Creates a fake with no tables.
    public init() {}

    /// Makes the next `count` runs fail with `error` (without touching the tables).
    public func failNextRuns(_ count: Int = 1, with error: HostError = HostError(.exitStatus(1), command: ["nft", "-f", "-"])) {
        state.withLock { $0.pendingFailures += Array(repeating: error, count: count) }
    }

    /// Sets what `isAvailable()` answers.
    public func setAvailable(_ available: Bool) { state.withLock { $0.available = available } }

    /// The table, if it exists.
    public func table(_ family: NFTFamily, _ name: String = NFTTransaction.defaultTable) -> FakeNFTable? {
        state.withLock { $0.tables["\(family) \(name)"] }
    }

    /// Replaces (or with nil removes) a table, e.g. to simulate what a previous process left.
    public func setTable(_ table: FakeNFTable?, family: NFTFamily, name: String = NFTTransaction.defaultTable) {
        state.withLock { $0.tables["\(family) \(name)"] = table }
    }

    /// Every transaction that succeeded, in order.
    public var transactions: [NFTTransaction] { state.withLock { $0.transactions } }

    /// The last transaction that succeeded.
    public var lastTransaction: NFTTransaction? { state.withLock { $0.transactions.last } }

    public func run(_ transaction: String) async throws {
        try apply(text: transaction)
    }

    /// Synchronous `run`.
    public func apply(text: String) throws(HostError) {
        let command = ["nft", "-f", "-"]
        func failure(_ message: String) -> HostError { HostError(.exitStatus(1), command: command, stderr: message) }
        let firstLine = text.split(separator: "\n").first { !$0.allSatisfy(\.isWhitespace) && !$0.hasPrefix("#") } ?? ""
        let words = firstLine.split(separator: " ")
        guard words.count >= 4, let family = NFTFamily(rawValue: String(words[2])) else {
            if firstLine.isEmpty { return }
            throw failure("Error: syntax error\n\(firstLine)")
        }
        let transaction: NFTTransaction
        do {
            transaction = try NFTTransaction(parsing: text, family: family, table: String(words[3]))
        } catch {
            throw failure("Error: syntax error, \(error)")
        }
        try state.withLock { (state: inout State) throws(HostError) in
            if !state.pendingFailures.isEmpty { throw state.pendingFailures.removeFirst() }
            let key = "\(family) \(transaction.table)"
            var table = state.tables[key]
            for operation in transaction.operations {
                let line = transaction.line(for: operation)
                switch operation {
                case .addTable(let comment):
                    if table == nil { table = FakeNFTable(family: family, name: transaction.table, comment: comment) }
                case .deleteTable:
                    guard table != nil else { throw failure("Error: No such file or directory\n\(line)") }
                    table = nil
                default:
                    guard table != nil else { throw failure("Error: No such file or directory\n\(line)") }
                    do throws(FakeNFTError) {
                        try table!.apply(operation, line: line)
                    } catch {
                        throw failure(error.description)
                    }
                }
            }
            state.tables[key] = table
            state.transactions.append(transaction)
        }
    }

    public func listTable(family: IPFamily, name: String) async throws -> String? {
        table(NFTFamily(family), name)?.jsonListing()
    }

    @discardableResult
    public func deleteTable(family: IPFamily, name: String) async throws -> Bool {
        state.withLock { $0.tables.removeValue(forKey: "\(NFTFamily(family)) \(name)") != nil }
    }

    public func isAvailable() -> Bool { state.withLock { $0.available } }
}
