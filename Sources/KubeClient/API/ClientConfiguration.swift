/// How to reach and authenticate to the API server: the resolved result of `--kubeconfig`,
/// `KUBECONFIG`, the in-cluster service account, `~/.kube/config` and `--master`.
///
/// Load it once at start with ``load(kubeconfig:master:environment:inCluster:)``, which fails
/// with an ``APIClientError/configuration(file:field:message:)`` naming the file and field at
/// fault; construct it directly in tests. Printing it never shows a token or a private key.
public struct ClientConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// How requests are authenticated beyond TLS client certificates.
    public enum Credentials: Sendable, Hashable {
        /// No bearer token (client certificates or an unauthenticated server).
        case none
        /// A fixed token (`users[].user.token`).
        case token(BearerToken)
        /// A token file, re-read about every minute and after a `401` (in-cluster service
        /// account, `users[].user.tokenFile`), since projected tokens rotate.
        case tokenFile(String)
        /// A credential plugin, re-run when its credential expires or after a `401`.
        case exec(ExecPluginConfig)
    }

    /// The API server URL, e.g. `https://10.0.0.1:6443` (may carry a path prefix).
    public var server: String
    /// Where this configuration came from, for logs: `kubeconfig /etc/kubernetes/proxy.conf
    /// (context default)`, `in-cluster service account`, …
    public var origin: String
    /// PEM bundle the server certificate must chain to (`nil`: the system roots).
    public var certificateAuthorityPEM: [UInt8]?
    /// Skip server certificate verification (`insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify: Bool
    /// Name to verify the server certificate against instead of the URL's host.
    public var tlsServerName: String?
    /// PEM client certificate (chain) for mutual TLS.
    public var clientCertificatePEM: [UInt8]?
    /// PEM private key of the client certificate.
    public var clientKeyPEM: [UInt8]?
    /// Bearer-token source.
    public var credentials: Credentials

    /// Creates a configuration directly (tests, embedding); `load` is the normal way.
    public init(
        server: String, origin: String = "explicit configuration", certificateAuthorityPEM: [UInt8]? = nil,
        insecureSkipTLSVerify: Bool = false, tlsServerName: String? = nil, clientCertificatePEM: [UInt8]? = nil,
        clientKeyPEM: [UInt8]? = nil, credentials: Credentials = .none
    ) {
        self.server = server
        self.origin = origin
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.tlsServerName = tlsServerName
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.credentials = credentials
    }

    /// `https://10.0.0.1:6443 (kubeconfig /x (context a), auth: token file /y)`: what an
    /// operator needs to see at start, without secrets.
    public var description: String {
        var auth: [String] = []
        switch credentials {
        case .none: break
        case .token: auth.append("token")
        case .tokenFile(let path): auth.append("token file \(path)")
        case .exec(let plugin): auth.append("exec \(plugin.command)")
        }
        if clientCertificatePEM != nil { auth.append("client certificate") }
        var text = "\(redactedServer) (\(origin)"
        if !auth.isEmpty { text += ", auth: " + auth.joined(separator: " + ") }
        if insecureSkipTLSVerify { text += ", TLS verification disabled" }
        return text + ")"
    }
}
