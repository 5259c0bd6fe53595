import KubeAPI

/// libFuzzer entry point for the label-selector parser (`LabelSelector(parsing:)`).
///
/// Besides "does not crash", it checks the documented round trip: the canonical
/// `description` of a parsed selector parses to an equal selector, and matching is total.
@_cdecl("LLVMFuzzerTestOneInput")
public func labelSelectorFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    guard let selector = try? LabelSelector(parsing: text) else { return 0 }
    let canonical = selector.description
    guard let reparsed = try? LabelSelector(parsing: canonical) else {
        fatalError("canonical form \(canonical.debugDescription) of \(text.debugDescription) does not parse")
    }
    guard reparsed == selector else {
        fatalError("canonical form \(canonical.debugDescription) of \(text.debugDescription) parses differently")
    }
    var labels: [String: String] = [:]
    for requirement in selector.requirements {
        labels[requirement.key] = requirement.values.first ?? ""
    }
    _ = selector.matches(labels)
    _ = selector.matches(nil)
    return 0
}
