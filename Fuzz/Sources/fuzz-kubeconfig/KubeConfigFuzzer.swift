import Foundation
import KubeAPI

@testable import KubeClient

/// libFuzzer entry point for the kubeconfig reader: YAML through the manifest parser (as
/// `KubeConfigLoader.load` does), then `KubeConfigLoader.resolve`.
///
/// `resolve` reads the files a kubeconfig names (CA, certificate, key, token file). To keep the
/// target deterministic and free of side effects, inputs naming an absolute path, a home-relative
/// path or `..` are skipped, and relative paths resolve against a directory that does not
/// exist: file fields then fail the same way every time, while the inline `*-data` fields (base64,
/// PEM) are fully exercised.
@_cdecl("LLVMFuzzerTestOneInput")
public func kubeConfigFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = "/nonexistent-fuzz-kubeconfig/config"
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard case .success(let documents) = ManifestParser.documents(in: bytes, file: file),
        let root = documents.first, case .object = root, !namesFile(root)
    else { return 0 }
    do {
        let configuration = try KubeConfigLoader.resolve(
            ConfigNode(file: file, root: root), directory: "/nonexistent-fuzz-kubeconfig")
        _ = configuration.origin
    } catch {
        _ = error.description
    }
    return 0
}

/// Whether any string in `value` could lead the loader outside the nonexistent directory.
private func namesFile(_ value: JSONValue) -> Bool {
    switch value {
    case .string(let text): text.hasPrefix("/") || text.hasPrefix("~") || text.contains("..")
    case .array(let items): items.contains(where: namesFile)
    case .object(let members): members.values.contains(where: namesFile)
    default: false
    }
}
