/// The version of the `iptables` tools, as `iptables --version` prints it
/// (`iptables v1.8.9 (nf_tables)`), for the arguments that depend on it.
///
/// Upstream probes it once at start and decides from it: `MASQUERADE --random-fully` needs
/// 1.6.2 (TestMasqueradeRule), and so do `iptables-restore`'s `-w 5 -W 100000`.
public struct IPTablesVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The numeric components, e.g. `[1, 8, 9]`; missing trailing ones compare as zero.
    public var components: [Int]
    /// The backend in parentheses (`nf_tables`, `legacy`), when printed.
    public var backend: String?

    /// The first version whose `MASQUERADE` target takes `--random-fully`.
    public static let randomFullyMinimum = IPTablesVersion(components: [1, 6, 2])

    /// Creates a version from its components.
    public init(components: [Int], backend: String? = nil) {
        self.components = components
        self.backend = backend
    }

    /// Parses `iptables --version` output: the first `v<digits>(.<digits>)+` word (upstream's
    /// `v([0-9]+(\.[0-9]+)+)`), and a following `(backend)`; `nil` when there is none.
    public init?(parsing output: String) {
        let words = output.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard let index = words.firstIndex(where: { Self.numbers(in: $0) != nil }), let numbers = Self.numbers(in: words[index])
        else { return nil }
        components = numbers
        let next = words.index(after: index)
        if next < words.endIndex, words[next].hasPrefix("("), words[next].hasSuffix(")"), words[next].count > 2 {
            backend = String(words[next].dropFirst().dropLast())
        }
    }

    /// `v1.8.9` (or `v1.4.21:`) → `[1, 8, 9]`; at least two components, digits only.
    private static func numbers(in word: Substring) -> [Int]? {
        guard word.hasPrefix("v") else { return nil }
        let version = word.dropFirst().prefix { $0 == "." || ($0.isASCII && $0.isNumber) }
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        var result: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 9, part.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(part) else {
                return nil
            }
            result.append(value)
        }
        return result
    }

    /// Whether `MASQUERADE --random-fully` is understood (≥ 1.6.2).
    public var supportsRandomFully: Bool { self >= Self.randomFullyMinimum }

    /// `1.8.9 (nf_tables)`.
    public var description: String {
        components.map(String.init).joined(separator: ".") + (backend.map { " (\($0))" } ?? "")
    }

    public static func < (lhs: IPTablesVersion, rhs: IPTablesVersion) -> Bool {
        let count = max(lhs.components.count, rhs.components.count)
        for position in 0..<count {
            let left = position < lhs.components.count ? lhs.components[position] : 0
            let right = position < rhs.components.count ? rhs.components[position] : 0
            if left != right { return left < right }
        }
        return false
    }

    /// Equal numbers are equal versions whatever the backend, so `==` agrees with `<`.
    public static func == (lhs: IPTablesVersion, rhs: IPTablesVersion) -> Bool {
        !(lhs < rhs) && !(rhs < lhs)
    }

    public func hash(into hasher: inout Hasher) {
        var trimmed = components
        while trimmed.last == 0 { trimmed.removeLast() }
        hasher.combine(trimmed)
    }
}
