import Foundation

/// What a kubeconfig written by ``FakeAPIServer/writeKubeconfig(to:options:)`` contains.
public struct FakeAPIKubeconfigOptions: Sendable, Hashable {
    /// How credentials and the CA are referenced.
    public enum Style: Sendable, Hashable {
        /// `certificate-authority-data`, `token`, `client-*-data` inline (what `kind` and
        /// `kubectl config view --raw` produce).
        case embedded
        /// `certificate-authority`, `tokenFile`, `client-certificate`, `client-key` naming files
        /// written next to the kubeconfig by *relative* path (kubeadm's kube-proxy shape;
        /// relative paths resolve against the kubeconfig's directory).
        case files
    }

    /// Inline data or file references.
    public var style: Style
    /// The token to put in; `nil` uses the server's, `""` writes none.
    public var token: String?
    /// Whether to include the client certificate and key (mutual TLS).
    public var includeClientCertificate: Bool
    /// The context's default namespace.
    public var namespace: String

    /// Creates options; by default inline data with the server's token and no client certificate.
    public init(style: Style = .embedded, token: String? = nil, includeClientCertificate: Bool = false, namespace: String = "default") {
        self.style = style
        self.token = token
        self.includeClientCertificate = includeClientCertificate
        self.namespace = namespace
    }
}

extension FakeAPIServer {
    /// Writes a kubeconfig (cluster `fake`, user `fake`, context `fake`, current) that kubectl
    /// and our client accept: the server URL, the test CA (when serving TLS), the bearer token
    /// and optionally the client certificate.
    ///
    /// - Returns: `path`.
    /// - Throws: ``FakeAPIServerError`` when a file cannot be written or read.
    @discardableResult
    public func writeKubeconfig(to path: String, options: FakeAPIKubeconfigOptions = FakeAPIKubeconfigOptions()) throws(FakeAPIServerError)
        -> String
    {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let tokenValue = options.token ?? token ?? ""
        var cluster = ["    server: \(url)"]
        var user: [String] = []
        switch options.style {
        case .embedded:
            if let pki = tls?.pki { cluster.append("    certificate-authority-data: \(try Self.base64(pki.pem(pki.caCertificatePath)))") }
            if !tokenValue.isEmpty { user.append("    token: \(tokenValue)") }
            if options.includeClientCertificate, let pki = tls?.pki {
                user.append("    client-certificate-data: \(try Self.base64(pki.pem(pki.clientCertificatePath)))")
                user.append("    client-key-data: \(try Self.base64(pki.pem(pki.clientKeyPath)))")
            }
        case .files:
            if let pki = tls?.pki {
                try Self.write(try pki.pem(pki.caCertificatePath), to: directory + "/fake-ca.crt")
                cluster.append("    certificate-authority: fake-ca.crt")
            }
            if !tokenValue.isEmpty {
                try Self.write(tokenValue, to: directory + "/fake-token")
                user.append("    tokenFile: fake-token")
            }
            if options.includeClientCertificate, let pki = tls?.pki {
                try Self.write(try pki.pem(pki.clientCertificatePath), to: directory + "/fake-client.crt")
                try Self.write(try pki.pem(pki.clientKeyPath), to: directory + "/fake-client.key")
                user.append("    client-certificate: fake-client.crt")
                user.append("    client-key: fake-client.key")
            }
        }
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
            \(cluster.joined(separator: "\n"))
            users:
            - name: fake
              user:\(user.isEmpty ? " {}" : "\n" + user.joined(separator: "\n"))
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake
                namespace: \(options.namespace)
            current-context: fake
            preferences: {}

            """
        try Self.write(text, to: path)
        return path
    }

    private static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    private static func write(_ text: String, to path: String) throws(FakeAPIServerError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .file(path: path, reason: "\(error)")
        }
    }
}
