import KubeProxyCore

/// Removes conntrack entries that would keep steering UDP to a proxy that no longer exists.
///
/// When a UDP service port goes away, existing conntrack entries for its ClusterIP still
/// carry the old REDIRECT/DNAT translation, so clients' datagrams would keep vanishing until
/// the entries expire (docs/userspace-behaviour.md#udp-removal). Implementations throw `HostError`.
public protocol ConntrackExecutor: Sendable {
    /// Deletes all UDP flows whose original destination is `destination`; "nothing to
    /// delete" is success.
    func deleteUDPFlows(destination: IPAddress) async throws
    /// Deletes the UDP flows `filter` selects (kernel modes' cleanup after endpoints change);
    /// returns how many were deleted, for `kubeproxy_conntrack_reconciler_deleted_entries_total`.
    func deleteUDPFlows(matching filter: ConntrackCleanup.Filter) async throws -> Int
}

/// The real `ConntrackExecutor`: `conntrack -D --orig-dst IP -p udp` (`-f ipv6` for IPv6).
public struct SystemConntrack: ConntrackExecutor {
    /// How commands are run (and in which namespace).
    public var runner: CommandRunner

    /// Creates an executor; `netns` runs it via `ip netns exec NAME`.
    public init(netns: String? = nil) {
        self.runner = CommandRunner(netns: netns)
    }

    /// The arguments for `destination`, as upstream builds them.
    public static func arguments(destination: IPAddress) -> [String] {
        var arguments = ["-D", "--orig-dst", destination.description, "-p", "udp"]
        if destination.family == .ipv6 { arguments += ["-f", "ipv6"] }
        return arguments
    }

    public func deleteUDPFlows(destination: IPAddress) async throws {
        let output = try await runner.run("conntrack", Self.arguments(destination: destination))
        if Self.isNothingDeleted(output) { return }
        _ = try output.checked()
    }

    /// The arguments for `filter`: protocol first, as the tool needs it before port options.
    public static func arguments(filter: ConntrackCleanup.Filter) -> [String] {
        var arguments = ["-D", "-p", "udp"]
        if let destination = filter.destination { arguments += ["--orig-dst", destination.description] }
        arguments += ["--orig-port-dst", String(filter.destinationPort)]
        if let source = filter.replySource { arguments += ["--reply-src", source.description] }
        if filter.family == .ipv6 { arguments += ["-f", "ipv6"] }
        return arguments
    }

    public func deleteUDPFlows(matching filter: ConntrackCleanup.Filter) async throws -> Int {
        let output = try await runner.run("conntrack", Self.arguments(filter: filter))
        if Self.isNothingDeleted(output) { return 0 }
        _ = try output.checked()
        return Self.deletedCount(output)
    }

    /// The N of conntrack's "N flow entries have been deleted." (0 when absent).
    public static func deletedCount(_ output: CommandOutput) -> Int {
        for line in (output.stderr + "\n" + output.stdout).split(separator: "\n") {
            guard let range = line.range(of: " flow entries have been deleted") else { continue }
            let prefix = line[..<range.lowerBound]
            let digits = prefix.reversed().prefix { $0.isNumber }
            if let count = Int(String(digits.reversed())) { return count }
        }
        return 0
    }

    /// Whether the output is conntrack's "0 flow entries have been deleted" exit 1.
    public static func isNothingDeleted(_ output: CommandOutput) -> Bool {
        guard output.signal == nil && output.exitStatus == 1 else { return false }
        let message = "0 flow entries have been deleted"
        return (output.stderr + "\n" + output.stdout).split(separator: "\n").contains { line in
            line.hasPrefix(message) || line.contains(": " + message)
        }
    }

    /// Whether the `conntrack` tool is installed.
    public var isAvailable: Bool { runner.locate("conntrack") != nil }
}
