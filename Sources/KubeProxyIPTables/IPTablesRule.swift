/// One rule: the chain it lives in and its argument list, in order.
///
/// The arguments are kept exactly as written (ours) or as printed (iptables-save's), never
/// re-spelled, so a rule read back can be deleted with `-D` using the very same arguments.
/// Compare rules structurally with `PortalRule`, not by their argument order: iptables-save
/// reorders (`-d`/`-p` move to the front).
///
/// Stored packed: the arguments as one string, separated by U+001F (see `Storage`). A 10k-Service
/// table is ≈ 420,000 rules, kept between syncs for partial-sync diffs; as arrays of strings each
/// rule was an array block plus a heap block per argument longer than 15 bytes (≈ 400 bytes a
/// rule), packed it is one block (≈ 130 bytes). `arguments` rebuilds the array on demand.
public struct IPTablesRule: Hashable, Sendable, CustomStringConvertible {
    /// How the arguments are kept. The packing is a pure function of the arguments (packed
    /// exactly when that is unambiguous), so equal rules have equal storage and the synthesised
    /// `Hashable` compares arguments.
    private enum Storage: Hashable, Sendable {
        /// Non-empty arguments none of which contains the separator, joined by it.
        case packed(String)
        /// Anything else (no arguments, or an argument containing U+001F).
        case list([String])
    }

    /// Separates packed arguments (U+001F, one byte): a control character no rule argument of
    /// ours contains.
    private static let separator: Character = "\u{1F}"

    /// The chain that holds the rule.
    public var chain: String
    private var storage: Storage

    /// The arguments after `-A CHAIN`, e.g. `["-m", "comment", "--comment", "ns/svc", "-j", "ACCEPT"]`.
    public var arguments: [String] {
        get {
            switch storage {
            case .packed(let text):
                var arguments: [String] = []
                Self.forEachPacked(text) { arguments.append(String($0)) }
                return arguments
            case .list(let list): return list
            }
        }
        set { storage = Self.storage(for: newValue) }
    }

    /// Creates a rule.
    public init(chain: String, arguments: [String]) {
        self.chain = chain
        self.storage = Self.storage(for: arguments)
    }

    /// A rule whose arguments the caller has already packed: `packedArguments` is what
    /// `storage(for:)` makes of them (at least one argument, none containing U+001F, joined by
    /// it). For the save parser, which tokenizes straight into this form.
    init(chain: String, packedArguments: String) {
        self.chain = chain
        self.storage = .packed(packedArguments)
    }

    private static func storage(for arguments: [String]) -> Storage {
        guard !arguments.isEmpty, !arguments.contains(where: { $0.utf8.contains(0x1F) }) else { return .list(arguments) }
        var text = ""
        text.reserveCapacity(arguments.reduce(arguments.count) { $0 + $1.utf8.count })
        for (index, argument) in arguments.enumerated() {
            if index > 0 { text.append(separator) }
            text.append(argument)
        }
        return .packed(text)
    }

    /// Whether `other` has the same arguments (its chain aside), compared in their stored form
    /// without building either array.
    public func hasSameArguments(as other: IPTablesRule) -> Bool { storage == other.storage }

    /// Calls `body` with each argument in order, without building the array.
    public func forEachArgument(_ body: (Substring) -> Void) {
        switch storage {
        case .packed(let text):
            Self.forEachPacked(text, body)
        case .list(let list):
            for argument in list { body(Substring(argument)) }
        }
    }

    /// Calls `body` with each argument of packed `text`, split on the separator's byte (a
    /// `Character` split pays for grapheme breaking on 400k rules per full sync).
    private static func forEachPacked(_ text: String, _ body: (Substring) -> Void) {
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == 0x1F {
                body(text[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        body(text[start..<utf8.endIndex])
    }

    /// The value of the last `-j` or `-g` option: where matching packets go.
    public var target: String? {
        var result: String?
        var takeNext = false
        forEachArgument { argument in
            if takeNext {
                result = String(argument)
                takeNext = false
            } else if argument == "-j" || argument == "--jump" || argument == "-g" || argument == "--goto" {
                takeNext = true
            }
        }
        return result
    }

    /// The rule as an append line, `-A CHAIN args…`, quoted for iptables-restore.
    public var description: String { IPTablesTokenizer.join(["-A", chain] + arguments) }
}
