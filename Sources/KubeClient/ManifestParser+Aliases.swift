// libyaml, as vendored by Yams (its C target; Yams does not re-export it). We need its event
// stream because Yams offers only composed nodes, and composing already hashes mapping keys,
// which for an aliased key is the exponential walk we must avoid.
internal import CYaml
import Foundation

/// Where a file's aliases went past a bound of ``ManifestLimits``.
struct AliasViolation: Sendable, Hashable {
    /// 1-based document number.
    var document: Int
    /// 1-based line and column of the alias that crossed the bound.
    var line: Int
    /// 1-based column.
    var column: Int
    /// What was exceeded, as a sentence fragment for the error message.
    var problem: String
}

extension ManifestParser {
    /// Measures what the aliases of `data` would expand to, on libyaml's event stream, before
    /// anything is composed: an anchored node's size (nodes plus scalar bytes) and height are
    /// recorded once when it ends, and each alias adds the recorded values. So the check is one
    /// linear pass with memory proportional to the anchors, however far the aliases would
    /// expand; a 441-byte "billion laughs" file is refused after a few hundred events.
    ///
    /// - Returns: the first violation, or `nil` when the aliases stay within `limits` (also on
    ///   a syntax error: the real parse reports it with its usual message).
    static func aliasViolation(in data: Data, limits: ManifestLimits) -> AliasViolation? {
        // No `*`, no alias: skip the second parse for the ordinary file.
        guard !data.isEmpty, data.contains(UInt8(ascii: "*")) else { return nil }
        var scan = AliasScan(limits: limits)
        return data.withUnsafeBytes { bytes in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                switch scan.consume(&event) {
                case .next: continue
                case .done: return nil
                case .violation(let violation): return violation
                }
            }
            return nil
        }
    }
}

/// The bookkeeping of ``ManifestParser/aliasViolation(in:limits:)``. Sizes saturate just past
/// the limit, so counts of astronomically large expansions never overflow.
private struct AliasScan {
    enum Step {
        case next
        case done
        case violation(AliasViolation)
    }

    /// The expanded size and height of a node.
    struct Measure {
        var size: Int
        var height: Int
    }

    /// An open sequence or mapping: what its children add up to so far, and its anchor.
    struct Frame {
        var measure = Measure(size: 1, height: 1)
        var anchor: String?
    }

    let limits: ManifestLimits
    /// Anchors persist across documents, as in Yams' composer, which resolves an alias to the
    /// latest node with that anchor anywhere earlier in the stream.
    var anchors: [String: Measure] = [:]
    var open: [Frame] = []
    var document = 0
    /// What all aliases so far add when expanded.
    var expansion = 0

    init(limits: ManifestLimits) {
        self.limits = limits
    }

    mutating func consume(_ event: inout yaml_event_t) -> Step {
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return .done
        case YAML_DOCUMENT_START_EVENT:
            document += 1
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            close(Measure(size: saturated(1, scalar.length), height: 1), anchor: name(scalar.anchor))
        case YAML_SEQUENCE_START_EVENT:
            open.append(Frame(anchor: name(event.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            open.append(Frame(anchor: name(event.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = open.popLast() else { return .done }
            close(frame.measure, anchor: frame.anchor)
        case YAML_ALIAS_EVENT:
            // An unknown anchor is the composer's error to report; it adds nothing here.
            let measure = name(event.data.alias.anchor).flatMap { anchors[$0] } ?? Measure(size: 0, height: 0)
            expansion = saturated(expansion, measure.size)
            if expansion > limits.maxAliasExpansion {
                return .violation(
                    violation(
                        event.start_mark,
                        "aliases expand to more than \(limits.maxAliasExpansion) nodes and scalar bytes; "
                            + "refused as a possible alias bomb"))
            }
            if open.count + measure.height > limits.maxAliasDepth {
                return .violation(
                    violation(event.start_mark, "aliases nest deeper than \(limits.maxAliasDepth) levels; refused"))
            }
            close(measure, anchor: nil)
        default:
            break
        }
        return .next
    }

    /// Records a finished node: under its anchor, and in its parent's totals.
    private mutating func close(_ measure: Measure, anchor: String?) {
        if let anchor { anchors[anchor] = measure }
        guard !open.isEmpty else { return }
        open[open.count - 1].measure.size = saturated(open[open.count - 1].measure.size, measure.size)
        open[open.count - 1].measure.height = max(open[open.count - 1].measure.height, measure.height + 1)
    }

    private func saturated(_ a: Int, _ b: Int) -> Int {
        min(a + min(b, limits.maxAliasExpansion + 1), limits.maxAliasExpansion + 1)
    }

    private func violation(_ mark: yaml_mark_t, _ problem: String) -> AliasViolation {
        AliasViolation(document: max(document, 1), line: mark.line + 1, column: mark.column + 1, problem: problem)
    }

    private func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        anchor.map { String(cString: $0) }
    }
}

/// The alias bound for YAML read outside the manifest source (the `--config` file): the same
/// linear check, so a configuration file cannot be a "billion laughs" either.
public enum YAMLAliasGuard {
    /// `nil` when the aliases of `text` stay within `limits`, else a one-line reason
    /// (`document D, line L, column C: problem`) for an error that names the file.
    public static func violation(in text: String, limits: ManifestLimits = ManifestLimits()) -> String? {
        guard let found = ManifestParser.aliasViolation(in: Data(text.utf8), limits: limits) else { return nil }
        return "document \(found.document), line \(found.line), column \(found.column): \(found.problem)"
    }
}
