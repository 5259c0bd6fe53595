import KubeProxyCore
import KubeProxyRuntime

/// libFuzzer entry point for the configuration-file reader (`ConfigurationFile.parse`).
///
/// A file that parses must also survive `render` (what `--write-config-to` writes): the
/// rendered text parses back to an equal configuration.
@_cdecl("LLVMFuzzerTestOneInput")
public func configFileFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let config = try? ConfigurationFile.parse(text, file: "fuzz.yaml") else { return 0 }
    let rendered = ConfigurationFile.render(config)
    let reparsed: KubeProxyConfiguration
    do {
        reparsed = try ConfigurationFile.parse(rendered, file: "rendered.yaml")
    } catch {
        fatalError("rendered configuration does not parse: \(error)\n\(rendered)")
    }
    guard reparsed == config else {
        fatalError("rendered configuration parses differently:\n\(rendered)")
    }
    return 0
}
