import Foundation
import KubeAPI

@testable import KubeClient

/// A self-signed P-256 test certificate (CN swift-kube-proxy-test), for parsing only.
let testCertificatePEM = """
    -----BEGIN CERTIFICATE-----
    MIIBlzCCAT2gAwIBAgIUFgAJB01HdME4lbNt2n99Bsnnia4wCgYIKoZIzj0EAwIw
    IDEeMBwGA1UEAwwVc3dpZnQta3ViZS1wcm94eS10ZXN0MCAXDTI2MTEyNzE5MDkx
    MloYDzIxMjYxMTAzMTkwOTEyWjAgMR4wHAYDVQQDDBVzd2lmdC1rdWJlLXByb3h5
    LXRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARWCXKsjhT8wFI6OsMXHukg
    fB55UJke2NrS+lyYqYsrh4XnTlL7qnrfrmM+4XhwRhKK1vN5aBIwyREWPUBhhq98
    o1MwUTAdBgNVHQ4EFgQUvsX1vpolrBiATJZ1GVARrThvelEwHwYDVR0jBBgwFoAU
    vsX1vpolrBiATJZ1GVARrThvelEwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
    AgNIADBFAiEAkEQLeavA+Rz7aH2icqdP7cYybagyKoLViMsbujZiUZQCIFfDAAo1
    sfxC8YXeWKFsFOHUG3VD8cUcpvlcVv3tEz6K
    -----END CERTIFICATE-----

    """

/// The private key of ``testCertificatePEM``.
let testKeyPEM = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9tpBGKkOrDo5yABZ
    GVAFaFs+B92Wh3j3UMGzgGlTe2ihRANCAARWCXKsjhT8wFI6OsMXHukgfB55UJke
    2NrS+lyYqYsrh4XnTlL7qnrfrmM+4XhwRhKK1vN5aBIwyREWPUBhhq98
    -----END PRIVATE KEY-----

    """

/// Base64 of `text`, as kubeconfig `*-data` fields hold it.
func base64(_ text: String) -> String {
    Data(text.utf8).base64EncodedString()
}

/// A Service `namespace/name` at `resourceVersion`, with one port so versions can differ in content.
func service(_ name: String, namespace: String = "default", rv: String, port: Int = 80) -> Service {
    Service(
        metadata: ObjectMeta(name: name, namespace: namespace, resourceVersion: rv),
        spec: ServiceSpec(ports: [ServicePortSpec(name: "http", port: port)], clusterIP: "10.96.0.10"))
}

/// A LIST body: `items` at list version `rv`, with an optional continue token.
func listBody<Item: Codable & Sendable & Hashable>(_ items: [Item], rv: String, continue token: String? = nil)
    -> [UInt8]
{
    let list = ObjectList(
        apiVersion: "v1", kind: "List", metadata: ListMeta(resourceVersion: rv, continue: token), items: items)
    return Array((try? JSONEncoder().encode(list)) ?? Data())
}

/// One watch line (without the newline).
func watchLine<Object: Codable & Sendable & Hashable>(_ type: String, _ object: Object) -> [UInt8] {
    Array((try? JSONEncoder().encode(WatchEvent(type: type, object: object))) ?? Data())
}

/// A BOOKMARK line at `rv`, shaped as the API server sends it.
func bookmarkLine(rv: String) -> [UInt8] {
    Array(#"{"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"\#(rv)"},"spec":{}}}"#.utf8)
}

/// The watch-cache's "too old" ERROR event.
let expiredLine = Array(
    #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (120)","reason":"Expired","code":410}}"#
        .utf8)

/// A `Status` error body.
func statusBody(code: Int, reason: String, message: String = "", retryAfterSeconds: Int? = nil) -> [UInt8] {
    let status = Status(
        status: "Failure", message: message, reason: reason,
        details: retryAfterSeconds.map { StatusDetails(retryAfterSeconds: $0) }, code: code)
    return Array((try? JSONEncoder().encode(status)) ?? Data())
}

extension ObjectChange {
    /// `added default/web` etc.: compact expectations for store-level changes.
    func summary(_ meta: (Object) -> ObjectMeta) -> String {
        func name(_ object: Object) -> String {
            "\(meta(object).namespace ?? "")/\(meta(object).name ?? "")"
        }
        switch self {
        case .added(let object): return "added \(name(object))"
        case .updated(let old, let new): return "updated \(name(new)) \(meta(old).resourceVersion ?? "")→\(meta(new).resourceVersion ?? "")"
        case .deleted(let object): return "deleted \(name(object))"
        }
    }
}

extension Array where Element == ObjectChange<Service> {
    /// Summaries of Service changes, in order.
    var summaries: [String] { map { $0.summary(\.metadata) } }
}
