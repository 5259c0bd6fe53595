/// A label selector in the string syntax of `kubectl -l` and `--label-selector` query
/// parameters: comma-separated requirements, all of which must hold (AND).
///
/// Supported requirements: `key` (exists), `!key` (does not exist), `key=value`, `key==value`,
/// `key!=value`, `key in (a,b)`, `key notin (a,b)`. As upstream, `!=` and `notin` also match
/// objects that lack the key. The empty selector matches everything. Keys and values are checked
/// against the Kubernetes label syntax so a typo fails loudly at parse time instead of silently
/// matching nothing.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// The requirements, in the order written; all must match.
    public var requirements: [Requirement]

    /// A selector from already-built requirements.
    public init(requirements: [Requirement] = []) {
        self.requirements = requirements
    }

    /// The equality selector a `matchLabels` map stands for, requirements sorted by key.
    public init(matchLabels: [String: String]) {
        self.requirements = matchLabels.sorted { $0.key < $1.key }
            .map { Requirement(key: $0.key, operator: .equals, values: [$0.value]) }
    }

    /// Parses the string syntax.
    ///
    /// - Throws: ``ParseError`` naming the offset and what was expected.
    public init(parsing text: String) throws {
        var parser = LabelSelectorParser(text: text)
        self.requirements = try parser.parse()
    }

    /// The selector that matches every object.
    public static let everything = LabelSelector()

    /// Whether `labels` (absent labels count as empty) satisfy every requirement.
    public func matches(_ labels: [String: String]?) -> Bool {
        let labels = labels ?? [:]
        return requirements.allSatisfy { $0.matches(labels) }
    }

    /// Canonical string form; parsing it yields an equal selector.
    public var description: String {
        requirements.map(\.description).joined(separator: ",")
    }

    /// One requirement on one label key.
    public struct Requirement: Sendable, Hashable, CustomStringConvertible {
        /// The label key (`prefix/name` or `name`).
        public var key: String
        /// How the key's value is tested.
        public var `operator`: Operator
        /// The values for `equals`/`notEquals` (exactly one) and `in`/`notIn` (one or more);
        /// empty for `exists`/`doesNotExist`.
        public var values: [String]

        /// Creates a requirement. The caller guarantees the value count fits the operator.
        public init(key: String, operator: Operator, values: [String] = []) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }

        /// Whether `labels` satisfy this requirement.
        public func matches(_ labels: [String: String]) -> Bool {
            let value = labels[key]
            switch self.operator {
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .equals, .in: return value.map(values.contains) ?? false
            case .notEquals, .notIn: return value.map { !values.contains($0) } ?? true
            }
        }

        /// The requirement in selector syntax.
        public var description: String {
            switch self.operator {
            case .exists: return key
            case .doesNotExist: return "!\(key)"
            case .equals: return "\(key)=\(values.first ?? "")"
            case .notEquals: return "\(key)!=\(values.first ?? "")"
            case .in: return "\(key) in (\(values.joined(separator: ",")))"
            case .notIn: return "\(key) notin (\(values.joined(separator: ",")))"
            }
        }
    }

    /// The requirement operators of the string syntax.
    public enum Operator: String, Sendable, Hashable {
        /// `key`
        case exists
        /// `!key`
        case doesNotExist
        /// `key=value`, `key==value`
        case equals
        /// `key!=value`; also true when the key is absent.
        case notEquals
        /// `key in (a,b)`
        case `in`
        /// `key notin (a,b)`; also true when the key is absent.
        case notIn
    }

    /// Why a selector string did not parse: the input, the character offset, and what was wrong.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The whole selector text.
        public var input: String
        /// Character offset (0-based) where parsing failed.
        public var offset: Int
        /// What was expected or what is invalid.
        public var message: String

        /// Creates an error.
        public init(input: String, offset: Int, message: String) {
            self.input = input
            self.offset = offset
            self.message = message
        }

        /// `invalid label selector "…" at offset N: message`.
        public var description: String {
            "invalid label selector \"\(input)\" at offset \(offset): \(message)"
        }
    }
}
