import KubeProxyIPTables

/// libFuzzer entry point for the `iptables-save` parser (`IPTablesRuleSet(parsingSave:)`) and
/// the argument tokenizer under it.
///
/// Checked beyond "does not crash": a rule set that parses renders (``IPTablesRuleSet/text``)
/// to text that parses back to the same rule set, since the fakes and the restore scripts rely
/// on that; and the tokenizer's `join` output splits back into the same arguments.
@_cdecl("LLVMFuzzerTestOneInput")
public func iptablesSaveFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for line in text.split(separator: "\n") {
        guard let arguments = IPTablesTokenizer.split(line) else { continue }
        let joined = IPTablesTokenizer.join(arguments)
        guard IPTablesTokenizer.split(joined) == arguments else {
            fatalError("join \(joined.debugDescription) does not split back into \(arguments)")
        }
    }
    guard let ruleSet = try? IPTablesRuleSet(parsingSave: text) else { return 0 }
    let rendered = ruleSet.text
    let reparsed: IPTablesRuleSet
    do {
        reparsed = try IPTablesRuleSet(parsingSave: rendered)
    } catch {
        fatalError("rendered rule set does not parse: \(error)\n\(rendered)")
    }
    guard reparsed == ruleSet else {
        fatalError("rendered rule set parses differently:\n\(rendered)")
    }
    for table in ruleSet.tables {
        for chain in table.chains {
            for rule in chain.rules { _ = (rule.target, rule.saveOrdered) }
        }
    }
    return 0
}
