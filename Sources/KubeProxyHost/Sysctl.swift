import Foundation

/// Reads and writes kernel parameters under `/proc/sys` (`net.ipv4.conf.all.route_localnet`
/// is `/proc/sys/net/ipv4/conf/all/route_localnet`).
///
/// Only the process's own network namespace is affected for `net.*` keys, so a proxy run in a
/// test namespace changes nothing on the host.
public enum Sysctl {
    /// The file behind `name` (dots become slashes).
    public static func path(_ name: String) -> String {
        "/proc/sys/" + name.replacingOccurrences(of: ".", with: "/")
    }

    /// The value of `name`, trimmed; `nil` when it cannot be read (no such key, no procfs).
    public static func read(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: path(name), encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sets `name` to `value`.
    public static func write(_ name: String, value: String) throws(HostError) {
        do {
            try (value + "\n").write(toFile: path(name), atomically: false, encoding: .utf8)
        } catch {
            throw HostError(.unreadableFile, command: ["sysctl", "-w", "\(name)=\(value)"], stderr: "\(error)")
        }
    }
}
