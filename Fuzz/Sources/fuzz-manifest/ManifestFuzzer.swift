import Foundation

@testable import KubeClient
@testable import KubeProxyRuntime

/// The validator the real manifest source runs (Core's API validation), built once.
private let validator = ObjectValidation.validator()

/// libFuzzer entry point for the manifest decoder: bytes of one manifest file through
/// `ManifestDecoder.decode`, the function `ManifestSource` calls for every file it reads.
///
/// The first byte picks the file name, hence the parser: odd is `.json` (JSONDecoder), even is
/// `.yaml` (Yams, multi-document). The rest is the file. Errors are expected; only a crash, a
/// hang or unbounded memory is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func manifestFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let file = data[0] & 1 == 1 ? "fuzz/manifest.json" : "fuzz/manifest.yaml"
    let contents = ManifestDecoder.decode(Data(bytes: data + 1, count: size - 1), file: file, validator: validator)
    for error in contents.errors + contents.warnings { _ = error.description }
    for loaded in contents.objects { _ = loaded.object.key }
    return 0
}
