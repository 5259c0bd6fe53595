import KubeProxyCore

/// Runs nftables transactions and listings for one table per family: the whole interface the
/// nftables mode needs from the host.
///
/// Three operations, all whole-table: `run` applies an `nft -f -` transaction atomically,
/// `listTable` returns `nft -j list table` output (parse it with `NFTKernelState(parsingJSON:)`),
/// `deleteTable` removes the table (`--cleanup`). Keeping it this small lets a fake
/// (`FakeNFTables`) apply the very same text to in-memory tables, so tests assert resulting
/// tables instead of call logs. Implementations throw `HostError` carrying the command, the exit
/// status and the tail of nft's stderr (which names the failing line).
public protocol NFTablesExecutor: Sendable {
    /// Applies `transaction` (nft syntax, one command per line) atomically with `nft -f -`.
    func run(_ transaction: String) async throws
    /// Applies, as one transaction, the text `write` emits in pieces of whole lines (a full sync
    /// of a large cluster is tens of megabytes of text that need not exist as one String).
    func run(streaming write: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void) async throws
    /// `nft -j list table <family> <name>` output, or `nil` when there is no such table.
    func listTable(family: IPFamily, name: String) async throws -> String?
    /// Deletes the table; `false` when there was none (so `--cleanup` is harmless to repeat).
    @discardableResult
    func deleteTable(family: IPFamily, name: String) async throws -> Bool
    /// Whether nft can be run at all (tool present, privileges held).
    func isAvailable() -> Bool
}

extension NFTablesExecutor {
    /// Joins the pieces and runs them with `run(_:)`: enough for executors that hold tables in
    /// memory anyway (the fake).
    public func run(streaming write: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void) async throws {
        var text = ""
        try write { text += $0 }
        try await run(text)
    }
}

extension IPFamily {
    /// The nftables family keyword of this IP family's table: `ip` or `ip6`.
    public var nftFamily: String { self == .ipv4 ? "ip" : "ip6" }
}
