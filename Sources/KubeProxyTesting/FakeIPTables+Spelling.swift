import Foundation
import KubeProxyCore
import KubeProxyIPTables

extension FakeIPTables {
    /// `rule` (already in iptables-save's argument order, as the fake stores rules) spelled the
    /// way iptables-save 1.8.9 prints what iptables-restore was given, so code reading the
    /// fake's save meets the kernel's re-spellings, as against the real tools (checked in a
    /// namespace by the kernel tests):
    /// - `-j MARK --or-mark X` → `--set-xmark X/X`, `--xor-mark X` → `--set-xmark X/0x0`;
    /// - a bare `-j REJECT` gets its default `--reject-with icmp-port-unreachable` (IPv6:
    ///   `icmp6-port-unreachable`);
    /// - `recent` prints its options in its own order with the defaults (`--mask`, `--rsource`);
    /// - a `statistic` probability p is kept as round(p · 2³¹) and printed with 11 decimals
    ///   (`0.1000000000` → `0.10000000009`).
    /// Words the kernel does not re-spell stay as they are.
    public static func kernelSpelling(_ rule: IPTablesRule, family: IPFamily) -> IPTablesRule {
        var words = rule.arguments
        var changed = false
        func replace(_ pattern: [String], _ make: ([String]) -> [String]) {
            guard words.count >= pattern.count,
                let start = (0...(words.count - pattern.count)).first(where: { index in
                    zip(pattern, words[index...]).allSatisfy { $0 == "*" || $0 == $1 }
                })
            else { return }
            words.replaceSubrange(start..<start + pattern.count, with: make(Array(words[start..<start + pattern.count])))
            changed = true
        }
        replace(["-j", "MARK", "--or-mark", "*"]) { ["-j", "MARK", "--set-xmark", "\($0[3])/\($0[3])"] }
        replace(["-j", "MARK", "--xor-mark", "*"]) { ["-j", "MARK", "--set-xmark", "\($0[3])/0x0"] }
        if words.suffix(2) == ["-j", "REJECT"] {
            words += ["--reject-with", family == .ipv4 ? "icmp-port-unreachable" : "icmp6-port-unreachable"]
            changed = true
        }
        let mask = family == .ipv4 ? "255.255.255.255" : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        replace(["-m", "recent", "--name", "*", "--rcheck", "--seconds", "*", "--reap"]) {
            ["-m", "recent", "--rcheck", "--seconds", $0[6], "--reap", "--name", $0[3], "--mask", mask, "--rsource"]
        }
        replace(["-m", "recent", "--name", "*", "--set"]) { ["-m", "recent", "--set", "--name", $0[3], "--mask", mask, "--rsource"] }
        replace(["--probability", "*"]) { found in
            guard let value = Double(found[1]), value >= 0, value <= 1 else { return found }
            let kept = (value * 2_147_483_648).rounded()
            return ["--probability", String(format: "%.11f", kept / 2_147_483_648)]
        }
        return changed ? IPTablesRule(chain: rule.chain, arguments: words) : rule
    }
}
