import Foundation
import KubeAPI
import Yams

/// Turns the bytes of one manifest file into JSON documents, the common ground of YAML and JSON.
///
/// YAML is converted with the YAML 1.1 core-schema tags Kubernetes tooling uses (`80` is a
/// number, `"80"` a string, `true` a bool, `~` null), then decoded by the same `JSONDecoder` as
/// API responses, so a manifest means exactly what the same object would mean from the API
/// server, and type errors name the same field paths.
enum ManifestParser {
    /// The documents of `data`, in order; an empty YAML document is `.null` (it still counts in
    /// the numbering). A syntax error is reported against the first document that did not parse.
    /// YAML is refused before it is composed if its aliases break `limits` (see
    /// ``aliasViolation(in:limits:)``), and at the first document past `limits.maxDocuments`.
    static func documents(
        in data: Data, file: String, limits: ManifestLimits = ManifestLimits()
    ) -> Result<[JSONValue], ManifestError> {
        if file.lowercased().hasSuffix(".json") {
            return jsonDocuments(in: data, file: file)
        }
        return yamlDocuments(in: data, file: file, limits: limits)
    }

    private static func jsonDocuments(in data: Data, file: String) -> Result<[JSONValue], ManifestError> {
        do {
            return .success([try JSONDecoder().decode(JSONValue.self, from: data)])
        } catch {
            return .failure(
                ManifestError(reason: .syntax, file: file, document: 1, message: jsonMessage(error, data: data)))
        }
    }

    private static func yamlDocuments(
        in data: Data, file: String, limits: ManifestLimits
    ) -> Result<[JSONValue], ManifestError> {
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ManifestError(reason: .syntax, file: file, message: "not valid UTF-8"))
        }
        if let violation = aliasViolation(in: data, limits: limits) {
            return .failure(
                ManifestError(
                    reason: .limitExceeded, file: file, document: violation.document,
                    message: "line \(violation.line), column \(violation.column): \(violation.problem)"))
        }
        var documents: [JSONValue] = []
        do {
            let parser = try Parser(yaml: text, encoding: .utf8)
            while let node = try parser.nextRoot() {
                guard documents.count < limits.maxDocuments else {
                    return .failure(
                        ManifestError(
                            reason: .limitExceeded, file: file,
                            message: "more than \(limits.maxDocuments) documents; refused"))
                }
                documents.append(try json(from: node))
            }
            return .success(documents)
        } catch {
            return .failure(
                ManifestError(
                    reason: .syntax, file: file, document: documents.count + 1, message: yamlMessage(error)))
        }
    }

    /// Converts a composed YAML node to JSON by its resolved tag; unknown tags (timestamps,
    /// binary, custom) stay strings so they mean what they mean in `kubectl apply`.
    static func json(from node: Yams.Node) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            return try json(from: scalar, node: node)
        case .sequence(let sequence):
            return .array(try sequence.map(json(from:)))
        case .mapping(let mapping):
            return .object(try members(of: mapping))
        case .alias:
            throw ConversionError(mark: node.mark, message: "unresolved alias")
        }
    }

    /// The members of a mapping, with YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`) applied
    /// as `kubectl` applies them: keys written in the mapping win over merged ones, and an
    /// earlier merged mapping wins over a later one.
    private static func members(of mapping: Yams.Node.Mapping) throws -> [String: JSONValue] {
        var written: [String: JSONValue] = [:]
        var merged: [String: JSONValue] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, scalar.style == .plain, scalar.string == "<<" else {
                written[key.string ?? ""] = try json(from: value)
                continue
            }
            let sources: [Yams.Node]
            switch value {
            case .mapping: sources = [value]
            case .sequence(let sequence): sources = Array(sequence)
            default: throw ConversionError(mark: value.mark, message: "<< must merge a mapping or a list of mappings")
            }
            for source in sources {
                guard case .mapping(let sourceMapping) = source else {
                    throw ConversionError(mark: source.mark, message: "<< must merge a mapping or a list of mappings")
                }
                for (name, member) in try members(of: sourceMapping) where merged[name] == nil {
                    merged[name] = member
                }
            }
        }
        return written.merging(merged) { explicit, _ in explicit }
    }

    private static func json(from scalar: Yams.Node.Scalar, node: Yams.Node) throws -> JSONValue {
        switch Tag.Name(rawValue: node.tag.rawValue) {
        case .null:
            return .null
        case .bool:
            if let value = node.bool { return .bool(value) }
        case .int:
            // An integer too large for Int stays text, so decoding names the field it is in.
            if let value = integer(from: scalar) { return .int(value) }
        case .float:
            if let value = node.float {
                guard value.isFinite else {
                    throw ConversionError(
                        mark: node.mark, message: "\(ManifestExcerpt.quoted(scalar.string)) is not a finite number")
                }
                return .double(value)
            }
        default:
            break
        }
        return .string(scalar.string)
    }

    /// Yams' `Int.construct(from:)`, except that a sexagesimal integer (`190:20:30`) is computed
    /// with overflow checks: Yams multiplies without them and traps on `9223372036854775530:8`
    /// or on a dozen components (found by fuzzing). One too large for `Int` is `nil`, so the
    /// scalar stays text, as any other integer too large does.
    static func integer(from scalar: Yams.Node.Scalar) -> Int? {
        // Yams' order: plain scalars only, underscores dropped, "0" and radix prefixes first.
        guard scalar.style == .any || scalar.style == .plain else { return nil }
        let text = scalar.string.replacingOccurrences(of: "_", with: "")
        let negative = text.hasPrefix("-")
        let unsigned = negative || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard unsigned.contains(":"), !unsigned.hasPrefix("0") else { return Int.construct(from: scalar) }
        var value = 0
        for component in unsigned.split(separator: ":", omittingEmptySubsequences: false) {
            guard let digit = Int(component, radix: 10) else { return nil }
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 60)
            let (sum, overflowB) = shifted.addingReportingOverflow(digit)
            guard !overflowA, !overflowB else { return nil }
            value = sum
        }
        return negative ? (value == Int.min ? nil : -value) : value
    }

    /// A YAML value with no JSON equivalent.
    struct ConversionError: Error, CustomStringConvertible {
        var mark: Mark?
        var message: String
        var description: String {
            guard let mark else { return message }
            return "line \(mark.line), column \(mark.column): \(message)"
        }
    }

    /// One line: `line L, column C: problem (context)`, without Yams' multi-line snippet.
    static func yamlMessage(_ error: any Error) -> String {
        guard let error = error as? YamlError else { return String(describing: error) }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var text = "line \(mark.line), column \(mark.column): \(problem)"
            if let context { text += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            return text
        case .duplicatedKeysInMapping(let duplicates, let context):
            let shown = duplicates.sorted().prefix(5).map { ManifestExcerpt.quoted($0, limit: 60) }
            let more = duplicates.count > shown.count ? " and \(duplicates.count - shown.count) more" : ""
            return "line \(context.mark.line), column \(context.mark.column): duplicate keys "
                + shown.joined(separator: ", ") + more
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "invalid YAML"
        }
    }

    /// Foundation's JSON errors carry no position, so the location comes from running the YAML
    /// parser (JSON is nearly a subset of YAML) over the same bytes; if that finds nothing the
    /// generic description is used.
    private static func jsonMessage(_ error: any Error, data: Data) -> String {
        if let text = String(data: data, encoding: .utf8) {
            do {
                let parser = try Parser(yaml: text, encoding: .utf8)
                while try parser.nextRoot() != nil {}
            } catch {
                return "invalid JSON: " + yamlMessage(error)
            }
        }
        guard case DecodingError.dataCorrupted(let context) = error else { return "invalid JSON: \(error)" }
        return "invalid JSON: \(context.debugDescription)"
    }
}
