import KubeProxyCore

extension SystemIPTables {
    /// `iptables` or `ip6tables`.
    public static func tool(_ family: IPFamily) -> String { family == .ipv4 ? "iptables" : "ip6tables" }

    /// Runs `iptables --version` (or `ip6tables`) and parses it; `nil` when the tool fails or
    /// prints no version, which callers treat as "too old for version-dependent arguments".
    public func version(family: IPFamily) async -> IPTablesVersion? {
        do {
            let output = try await runner.run(Self.tool(family), ["--version"]).checked()
            return IPTablesVersion(parsing: output.stdout)
        } catch {
            logger.warning("cannot run \(Self.tool(family)) --version", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
