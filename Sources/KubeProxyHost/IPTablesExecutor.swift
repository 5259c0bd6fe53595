import KubeProxyCore

/// Reads and writes iptables state for one IP family: the whole interface the proxy needs.
///
/// Two operations only, both whole-batch: `save` returns `iptables-save` text (parse it with
/// `IPTablesRuleSet(parsingSave:)`) and `restore` applies `iptables-restore --noflush` input
/// atomically. Keeping it this small lets a fake (`FakeIPTables`) apply the very same text to
/// in-memory tables, so tests assert resulting tables instead of call logs.
/// Implementations throw `HostError`.
public protocol IPTablesExecutor: Sendable {
    /// The current rules of `family`, as `iptables-save` / `ip6tables-save` prints them.
    func save(family: IPFamily) async throws -> String
    /// Applies `input` with `iptables-restore --noflush` (chains not mentioned are untouched).
    func restore(_ input: String, family: IPFamily) async throws
    /// Whether rules of `family` can be managed at all (tools present and privileges held);
    /// decides whether portals are enabled.
    func isAvailable(family: IPFamily) -> Bool
}
