import Foundation
import KubeAPI
import KubeProxyTesting

/// Runs `body` against a freshly started plain-HTTP fake server (token `test-token` unless
/// given) and shuts it down afterwards, also when `body` throws.
func withFakeServer<T: Sendable>(
    token: String? = "test-token", configuration: FakeAPIServer.Configuration = .init(),
    _ body: (FakeAPIServer) async throws -> T
) async throws -> T {
    let server = try await FakeAPIServer.start(token: token, configuration: configuration)
    do {
        let result = try await body(server)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

extension FakeAPIServer {
    /// GET `target` with the server's token on a fresh connection.
    func fetch(
        _ target: String, method: String = "GET", body: [UInt8] = [], contentType: String? = nil
    ) async throws -> RawHTTPConnection.Response {
        try await RawHTTPConnection.fetch(port: port, target, method: method, token: token, body: body, contentType: contentType)
    }

    /// Opens a watch on `target` with the server's token.
    func openWatch(_ target: String) async throws -> (RawHTTPConnection, RawHTTPConnection.Head) {
        try await RawHTTPConnection.watch(port: port, target, token: token)
    }
}

/// A fresh directory under the system temporary directory for kubeconfigs and PKIs.
struct FakeAPIScratchDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "fake-apiserver-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
