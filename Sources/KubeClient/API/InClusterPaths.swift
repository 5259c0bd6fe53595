/// Where a pod finds its service-account credentials (client-go's `rest.InClusterConfig`).
///
/// Injectable so tests can point at temporary files; production uses ``standard``.
public struct InClusterPaths: Sendable, Hashable {
    /// The projected, rotating service-account token (re-read about every minute).
    public var tokenFile: String
    /// The cluster CA bundle.
    public var certificateAuthorityFile: String

    /// Creates paths.
    public init(tokenFile: String, certificateAuthorityFile: String) {
        self.tokenFile = tokenFile
        self.certificateAuthorityFile = certificateAuthorityFile
    }

    /// `/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}`.
    public static let standard = InClusterPaths(
        tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        certificateAuthorityFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
}
