import KubeProxyCore

/// Reads and writes iptables state for one IP family: the whole interface the proxy needs.
///
/// Two operations, both whole-batch (plus a version probe at start): `save` returns `iptables-save` text (parse it with
/// `IPTablesRuleSet(parsingSave:)`) and `restore` applies `iptables-restore --noflush` input
/// atomically. Keeping it this small lets a fake (`FakeIPTables`) apply the very same text to
/// in-memory tables, so tests assert resulting tables instead of call logs.
/// Implementations throw `HostError`.
public protocol IPTablesExecutor: Sendable {
    /// The current rules of `family`, as `iptables-save` / `ip6tables-save` prints them.
    func save(family: IPFamily) async throws -> String
    /// Applies `input` with `iptables-restore --noflush` (chains not mentioned are untouched).
    func restore(_ input: String, family: IPFamily) async throws
    /// Applies `iptables-restore --noflush` input that `write` produces piece by piece (it
    /// calls `emit` with consecutive pieces), so a large input (a full portal write at 10k
    /// Services is megabytes) never has to exist as one String.
    func restore(
        streaming write: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void, family: IPFamily
    ) async throws
    /// Whether rules of `family` can be managed at all (tools present and privileges held);
    /// decides whether portals are enabled.
    func isAvailable(family: IPFamily) -> Bool
    /// The version of `family`'s tools (`iptables --version`), probed once at start for the
    /// version-dependent arguments; `nil` when it cannot be told.
    func version(family: IPFamily) async -> IPTablesVersion?
}

extension IPTablesExecutor {
    /// Executors that take only whole texts (fakes) get the pieces joined.
    public func restore(
        streaming write: @escaping @Sendable (_ emit: (String) throws -> Void) throws -> Void, family: IPFamily
    ) async throws {
        var input = ""
        try write { input.append($0) }
        try await restore(input, family: family)
    }

    /// Executors that cannot tell report no version (callers then leave version-dependent
    /// arguments out).
    public func version(family: IPFamily) async -> IPTablesVersion? { nil }
}
