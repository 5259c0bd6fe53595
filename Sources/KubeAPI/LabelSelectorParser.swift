/// Recursive-descent parser behind ``LabelSelector/init(parsing:)``.
struct LabelSelectorParser {
    private let text: String
    private let chars: [Character]
    private var index = 0

    init(text: String) {
        self.text = text
        self.chars = Array(text)
    }

    mutating func parse() throws -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        skipSpaces()
        if index == chars.count { return [] }
        while true {
            requirements.append(try parseRequirement())
            skipSpaces()
            if index == chars.count { return requirements }
            guard chars[index] == "," else { throw error("expected \",\" or end of selector") }
            index += 1
            skipSpaces()
        }
    }

    private mutating func parseRequirement() throws -> LabelSelector.Requirement {
        if peek() == "!" {
            index += 1
            skipSpaces()
            return .init(key: try parseKey(), operator: .doesNotExist)
        }
        let key = try parseKey()
        skipSpaces()
        switch peek() {
        case nil, ",":
            return .init(key: key, operator: .exists)
        case "=":
            index += 1
            if peek() == "=" { index += 1 }
            return .init(key: key, operator: .equals, values: [try parseValue()])
        case "!":
            index += 1
            guard peek() == "=" else { throw error("expected \"!=\"") }
            index += 1
            return .init(key: key, operator: .notEquals, values: [try parseValue()])
        default:
            let start = index
            let word = readWord()
            switch word {
            case "in": return .init(key: key, operator: .in, values: try parseSet())
            case "notin": return .init(key: key, operator: .notIn, values: try parseSet())
            default:
                index = start
                throw error("expected \"=\", \"==\", \"!=\", \"in\" or \"notin\" after key \"\(key)\"")
            }
        }
    }

    private mutating func parseKey() throws -> String {
        let start = index
        let key = readWord()
        guard !key.isEmpty else { throw error("expected a label key") }
        if let problem = LabelSyntax.keyProblem(key) {
            index = start
            throw error("invalid key \"\(key)\": \(problem)")
        }
        return key
    }

    private mutating func parseValue() throws -> String {
        skipSpaces()
        let start = index
        let value = readWord()
        if let problem = LabelSyntax.valueProblem(value) {
            index = start
            throw error("invalid value \"\(value)\": \(problem)")
        }
        return value
    }

    private mutating func parseSet() throws -> [String] {
        skipSpaces()
        guard peek() == "(" else { throw error("expected \"(\"") }
        index += 1
        var values: [String] = []
        while true {
            values.append(try parseValue())
            skipSpaces()
            switch peek() {
            case ",": index += 1
            case ")":
                if values == [""] { throw error("value set must not be empty") }
                index += 1
                return values
            default: throw error("expected \",\" or \")\" in value set")
            }
        }
    }

    /// Reads up to the next space or delimiter.
    private mutating func readWord() -> String {
        let start = index
        while let char = peek(), !char.isWhitespace, !"!=,()".contains(char) {
            index += 1
        }
        return String(chars[start..<index])
    }

    private func peek() -> Character? {
        index < chars.count ? chars[index] : nil
    }

    private mutating func skipSpaces() {
        while let char = peek(), char.isWhitespace { index += 1 }
    }

    private func error(_ message: String) -> LabelSelector.ParseError {
        LabelSelector.ParseError(input: text, offset: index, message: message)
    }
}

/// The label key and value syntax of `k8s.io/apimachinery/pkg/util/validation`.
enum LabelSyntax {
    /// Why `key` is not a qualified name (`[prefix/]name`), or `nil` if it is.
    static func keyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "at most one \"/\" is allowed" }
        if parts.count == 2 {
            let prefix = parts[0]
            if prefix.isEmpty || prefix.count > 253 { return "prefix must be 1 to 253 characters" }
            let allowed = prefix.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
            if !allowed { return "prefix must be a lower-case DNS subdomain" }
        }
        let name = parts[parts.count - 1]
        if name.isEmpty { return "name part must not be empty" }
        return nameProblem(name)
    }

    /// Why `value` is not a label value (empty allowed), or `nil` if it is.
    static func valueProblem(_ value: String) -> String? {
        value.isEmpty ? nil : nameProblem(value)
    }

    private static func nameProblem(_ name: Substring) -> String? {
        nameProblem(String(name))
    }

    private static func nameProblem(_ name: String) -> String? {
        if name.count > 63 { return "must be at most 63 characters" }
        let isAlnum: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
        guard name.allSatisfy({ isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." }) else {
            return "only alphanumerics, \"-\", \"_\" and \".\" are allowed"
        }
        guard let first = name.first, let last = name.last, isAlnum(first), isAlnum(last) else {
            return "must start and end with an alphanumeric character"
        }
        return nil
    }
}
